"""Literal, slow re-statements of the zero-cost-nas and NASLib recipes (tests and benchmarks).

Each function follows the anchor's own mechanics on a deep copy of the network (their
``get_prunable_copy(bn=True)``): monkeypatched forwards, ``loss.backward()``, backward hooks,
numpy ``corrcoef`` + ``eig``, per-layer metric arrays summed as their ``sum_arr`` (a float32
tensor accumulator). Written from SamsungLabs/zero-cost-nas ``foresight/pruners/measures/`` and
``predictive.py``, and automl/NASLib ``naslib/predictors/utils/pruners/measures/``; the one
adaptation is that our networks return ``(features, logits)``, so ``_out`` takes the logits where
theirs return logits directly. Not imported by the package.
"""

from __future__ import annotations

import copy
import types

import numpy as np
import torch
import torch.autograd as autograd
import torch.nn.functional as F
from torch import nn


def _out(output):
    return output[-1] if isinstance(output, (tuple, list)) else output


def _copy(net: nn.Module) -> nn.Module:
    return copy.deepcopy(net)  # get_prunable_copy(bn=True)


def get_layer_metric_array(net, metric, mode):
    metric_array = []
    for layer in net.modules():
        if mode == "channel" and hasattr(layer, "dont_ch_prune"):
            continue
        if isinstance(layer, nn.Conv2d) or isinstance(layer, nn.Linear):
            metric_array.append(metric(layer))
    return metric_array


def sum_arr(arr) -> float:
    total = 0.0
    for a in arr:
        total += torch.sum(a)
    return float(total.item() if isinstance(total, torch.Tensor) else total)


def reshape_elements(elements, shapes):
    out = []
    for e, sh in zip(elements, shapes, strict=True):
        out.append(torch.stack([torch.Tensor(sh).fill_(v) for v in e], dim=0))
    return out


# ---- zero-cost-nas -------------------------------------------------------------------------


def grad_norm_reference(network, inputs, targets) -> float:
    net = _copy(network)
    net.zero_grad()
    outputs = _out(net.forward(inputs))
    loss = F.cross_entropy(outputs, targets)
    loss.backward()
    arr = get_layer_metric_array(
        net, lambda layer: layer.weight.grad.norm() if layer.weight.grad is not None
        else torch.zeros_like(layer.weight), mode="param")
    return sum_arr(arr)


def _snip_forward_conv2d(self, x):
    return F.conv2d(x, self.weight * self.weight_mask, self.bias, self.stride, self.padding,
                    self.dilation, self.groups)


def _snip_forward_linear(self, x):
    return F.linear(x, self.weight * self.weight_mask, self.bias)


def snip_reference(network, inputs, targets) -> float:
    net = _copy(network)
    for layer in net.modules():
        if isinstance(layer, nn.Conv2d) or isinstance(layer, nn.Linear):
            layer.weight_mask = nn.Parameter(torch.ones_like(layer.weight))
            layer.weight.requires_grad = False
        if isinstance(layer, nn.Conv2d):
            layer.forward = types.MethodType(_snip_forward_conv2d, layer)
        if isinstance(layer, nn.Linear):
            layer.forward = types.MethodType(_snip_forward_linear, layer)
    net.zero_grad()
    outputs = _out(net.forward(inputs))
    loss = F.cross_entropy(outputs, targets)
    loss.backward()

    def snip(layer):
        if layer.weight_mask.grad is not None:
            return torch.abs(layer.weight_mask.grad)
        return torch.zeros_like(layer.weight)

    return sum_arr(get_layer_metric_array(net, snip, "param"))


def grasp_reference(network, inputs, targets, T: int = 1, num_iters: int = 1) -> float:
    net = _copy(network)
    weights = []
    for layer in net.modules():
        if isinstance(layer, nn.Conv2d) or isinstance(layer, nn.Linear):
            weights.append(layer.weight)
            layer.weight.requires_grad_(True)
    net.zero_grad()
    grad_w = None
    for _ in range(num_iters):
        outputs = _out(net.forward(inputs)) / T
        loss = F.cross_entropy(outputs, targets)
        grad_w_p = autograd.grad(loss, weights, allow_unused=True)
        if grad_w is None:
            grad_w = list(grad_w_p)
        else:
            for idx in range(len(grad_w)):
                grad_w[idx] += grad_w_p[idx]
    outputs = _out(net.forward(inputs)) / T
    loss = F.cross_entropy(outputs, targets)
    grad_f = autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z, count = 0, 0
    for layer in net.modules():
        if isinstance(layer, nn.Conv2d) or isinstance(layer, nn.Linear):
            if grad_w[count] is not None:
                z += (grad_w[count].data * grad_f[count]).sum()
            count += 1
    z.backward()

    def grasp(layer):
        if layer.weight.grad is not None:
            return -layer.weight.data * layer.weight.grad
        return torch.zeros_like(layer.weight)

    return sum_arr(get_layer_metric_array(net, grasp, "param"))


def _fisher_forward_conv2d(self, x):
    x = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
    self.act = self.dummy(x)
    return self.act


def _fisher_forward_linear(self, x):
    x = F.linear(x, self.weight, self.bias)
    self.act = self.dummy(x)
    return self.act


def fisher_reference(network, inputs, targets) -> float:
    net = _copy(network)
    net.train()
    for layer in net.modules():
        if isinstance(layer, nn.Conv2d) or isinstance(layer, nn.Linear):
            layer.fisher = None
            layer.act = 0.0
            layer.dummy = nn.Identity()
            if isinstance(layer, nn.Conv2d):
                layer.forward = types.MethodType(_fisher_forward_conv2d, layer)
            if isinstance(layer, nn.Linear):
                layer.forward = types.MethodType(_fisher_forward_linear, layer)

            def hook_factory(layer):
                def hook(module, grad_input, grad_output):
                    act = layer.act.detach()
                    grad = grad_output[0].detach()
                    if len(act.shape) > 2:
                        g_nk = torch.sum((act * grad), list(range(2, len(act.shape))))
                    else:
                        g_nk = act * grad
                    del_k = g_nk.pow(2).mean(0).mul(0.5)
                    if layer.fisher is None:
                        layer.fisher = del_k
                    else:
                        layer.fisher += del_k
                    del layer.act
                return hook

            # Their register_backward_hook on the identity fires with grad_output = ∂L/∂act; the
            # full hook gives the same grad_output without the deprecated API's warning.
            layer.dummy.register_full_backward_hook(hook_factory(layer))
    net.zero_grad()
    outputs = _out(net(inputs))
    loss = F.cross_entropy(outputs, targets)
    loss.backward()

    def fisher(layer):
        if layer.fisher is not None:
            return torch.abs(layer.fisher.detach())
        return torch.zeros(layer.weight.shape[0])

    grads_abs_ch = get_layer_metric_array(net, fisher, "channel")
    shapes = get_layer_metric_array(net, lambda layer: layer.weight.shape[1:], "channel")
    return sum_arr(reshape_elements(grads_abs_ch, shapes))


def plain_reference(network, inputs, targets) -> float:
    net = _copy(network)
    net.zero_grad()
    outputs = _out(net.forward(inputs))
    loss = F.cross_entropy(outputs, targets)
    loss.backward()

    def plain(layer):
        if layer.weight.grad is not None:
            return layer.weight.grad * layer.weight
        return torch.zeros_like(layer.weight)

    return sum_arr(get_layer_metric_array(net, plain, "param"))


def _batch_jacobian(net, x):
    x.requires_grad_(True)
    y = _out(net(x))
    y.backward(torch.ones_like(y))
    jacob = x.grad.detach()
    x.requires_grad_(False)
    return jacob, y.shape[-1]


def jacob_cov_eval_score(jacob) -> complex | float:
    corrs = np.corrcoef(jacob)
    v, _ = np.linalg.eig(corrs)
    k = 1e-5
    return -np.sum(np.log(v + k) + 1.0 / (v + k))


def jacob_cov_reference(network, inputs, targets=None) -> float:
    """Their jacob_cov; ``eig`` may return complex eigenvalues: the real part is returned."""
    net = _copy(network)
    net.zero_grad()
    x = inputs.clone()  # theirs sets requires_grad on the caller's batch; ours on a copy
    jacobs, _ = _batch_jacobian(net, x)
    jacobs = jacobs.reshape(jacobs.size(0), -1).cpu().numpy()
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            jc = jacob_cov_eval_score(jacobs)
    except Exception:
        jc = np.nan
    return float(np.real(jc))


# ---- NASLib --------------------------------------------------------------------------------


def epe_nas_eval_score_perclass(jacob, labels=None, n_classes=10):
    k = 1e-5
    per_class = {}
    for i, label in enumerate(labels[0]):
        if label in per_class:
            per_class[label] = np.vstack((per_class[label], jacob[i]))
        else:
            per_class[label] = jacob[i]
    ind_corr_matrix_score = {}
    for c in per_class.keys():
        s = 0
        try:
            corrs = np.array(np.corrcoef(per_class[c]))
            s = np.sum(np.log(abs(corrs) + k))
            if n_classes > 100:
                s /= len(corrs)
        except Exception:  # theirs: a bare except
            continue
        ind_corr_matrix_score[c] = s
    score = 0
    keys = ind_corr_matrix_score.keys()
    if n_classes <= 100:
        for c in keys:
            score += np.absolute(ind_corr_matrix_score[c])
    else:
        for c in keys:
            for cj in keys:
                score += np.absolute(ind_corr_matrix_score[c] - ind_corr_matrix_score[cj])
        if len(keys) > 0:
            score /= len(keys)
    return score


def epe_nas_reference(network, inputs, targets) -> float:
    net = _copy(network)
    try:
        net.zero_grad()
        x = inputs.clone()
        x.requires_grad_(True)
        y = _out(net(x))
        y.backward(torch.ones_like(y))
        jacobs_batch, n_classes = x.grad.detach(), y.shape[-1]
        jacobs = np.concatenate([jacobs_batch.reshape(jacobs_batch.size(0), -1).cpu().numpy()])
        labels = [targets.detach().cpu().numpy()]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = epe_nas_eval_score_perclass(jacobs, labels, n_classes)
    except Exception:
        s = np.nan
    return float(s)


def nwot_reference(network, inputs, targets=None) -> float:
    net = _copy(network)
    batch_size = len(inputs)  # theirs: len(targets); the same batch

    def counting_forward_hook(module, inp, out):
        inp = inp[0].view(inp[0].size(0), -1)
        x = (inp > 0).float()
        K = x @ x.t()
        K2 = (1.0 - x) @ (1.0 - x.t())
        net.K = net.K + K.cpu().numpy() + K2.cpu().numpy()

    net.K = np.zeros((batch_size, batch_size))
    for _, module in net.named_modules():
        module_type = str(type(module))
        # Theirs skips its own framework's types ("naslib": its ReLUConvBN containers); ours are
        # tfnas's, so the same rule reads "tfnas" here: every torch nn.ReLU is hooked.
        if ("ReLU" in module_type) and ("tfnas" not in module_type):
            module.register_forward_hook(counting_forward_hook)
    x = torch.clone(inputs)
    net(x)
    _, jc = np.linalg.slogdet(net.K)
    return float(jc)


REFERENCES = {
    "grad_norm": grad_norm_reference, "snip": snip_reference, "grasp": grasp_reference,
    "fisher": fisher_reference, "plain": plain_reference, "jacob_cov": jacob_cov_reference,
    "epe_nas": epe_nas_reference, "nwot": nwot_reference,
}
"""Proxy name → its literal reference ``f(network, images, labels) -> float``."""
