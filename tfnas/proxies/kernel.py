"""The NASWOT kernel: binary activation codes → Hamming kernel → log-determinant.

For a batch of ``N`` inputs and binary codes ``c_i`` over ``N_A`` rectified units, NASWOT's
kernel is ``K_ij = N_A - d_H(c_i, c_j)`` = the number of units on which ``i`` and ``j`` agree.
Per unit the agreement is ``c_i c_j + (1 - c_i)(1 - c_j) = 2 c_i c_j - c_i - c_j + 1``, so with
``C`` the ``N x D`` code matrix, ``r = C 1`` its row sums and ``G = C Cᵀ``:

    K = 2 G - r 1ᵀ - 1 rᵀ + N_A 1 1ᵀ

one Gram matrix instead of the official two matmuls per ReLU. A code shared by ``m`` ReLUs (one
node tensor feeding ``m`` conv edges, each with its own ReLU) is accumulated once with weight
``m``: ``K`` is linear in the per-unit terms.

Exactness: ``G`` is an int8 x int8 -> int32 GEMM of the 0/1 code bytes (``torch._int_mm``), in
column blocks of at most 2**30 units, so no int32 sum can overflow; or, where that kernel is
missing or does not apply, a float32 matmul in column blocks of fewer than 2**24 units, where
every product and partial sum is an integer below 2**24 and so exact in float32 whatever order
the BLAS sums in. The blocks are summed in int64. Both give the same integers; which one runs
is measured once per process (:func:`int8_gemm_is_faster`): the int8 GEMM is the faster where
the processor has int8 dot-product instructions (VNNI), and about 13 times slower than float32
on an AVX2-only processor (measured on this project's 2-core AMD EPYC, 128 x 16384 codes:
107 ms against 8 ms).
``K`` is therefore the exact integer kernel, and ``logdet`` converts it to float64 (exact below
2**53) before ``numpy.linalg.slogdet``.
"""

from __future__ import annotations

import functools
import math
import timeit

import numpy as np
import torch

from tfnas.checks import ArgumentError, ArgumentTypeError, check_int

_EXACT_F32 = 1 << 24
"""Integers below this are exact in float32; a Gram block sums at most this many 0/1 products."""


_EXACT_I32 = 1 << 30
"""Column block of the int8 GEMM: its int32 sums stay below 2**31."""
_INT_MM = hasattr(torch, "_int_mm")
_LOG_HALF = math.log(0.5)


class KernelAccumulator:
    """Accumulates the exact integer NASWOT kernel over activation codes of one batch."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size = check_int("batch_size", batch_size, 1)
        self._gram = np.zeros((batch_size, batch_size), dtype=np.int64)
        self._rows = np.zeros(batch_size, dtype=np.int64)
        self.num_units = 0
        """``N_A``: rectified units counted so far, with multiplicity."""

    def add(self, codes: torch.Tensor, multiplicity: int = 1) -> None:
        """Add the codes of ``multiplicity`` ReLUs that all see the same tensor.

        ``codes`` is boolean (or 0/1) with the batch on dimension 0; the rest is flattened.
        """
        if not isinstance(codes, torch.Tensor):
            raise ArgumentTypeError(f"codes must be a torch.Tensor, got {type(codes).__name__}")
        if codes.dim() < 1 or codes.shape[0] != self.batch_size:
            raise ArgumentError(
                f"codes must have the batch ({self.batch_size}) on dimension 0, got shape "
                f"{tuple(codes.shape)}"
            )
        multiplicity = check_int("multiplicity", multiplicity, 0)
        if codes.dtype != torch.bool:
            if not bool(((codes == 0) | (codes == 1)).all()):
                raise ArgumentError("codes must be binary (bool or 0/1 values)")
            codes = codes != 0
        if multiplicity == 0:
            return
        flat = codes.reshape(self.batch_size, -1)
        width = flat.shape[1]
        gram = _gram(flat)
        self._gram += multiplicity * gram
        # For 0/1 codes, G_ii = sum_d c_id^2 = sum_d c_id: the row sums are the diagonal.
        self._rows += multiplicity * np.diagonal(gram)
        self.num_units += multiplicity * width

    def kernel(self) -> np.ndarray:
        """The exact kernel ``K`` (int64, ``N x N``) of everything added so far."""
        r = self._rows
        return 2 * self._gram - r[:, None] - r[None, :] + self.num_units


@functools.cache
def int8_gemm_is_faster() -> bool:
    """Whether the int8 GEMM beats float32 on this processor for a code matrix of the usual
    shape (128 x 4096, the best of three timings each; measured once per process). Either
    choice gives the same kernel, so the choice can never change a score."""
    if not _INT_MM:
        return False
    codes = torch.zeros(128, 4096, dtype=torch.bool, device="cpu")  # a CPU choice
    codes[:, ::3] = True

    def best(method: str) -> float:
        return min(timeit.repeat(lambda: _gram(codes, method), number=1, repeat=3))

    return best("int8") < best("float32")


def _gram(codes: torch.Tensor, method: str | None = None) -> np.ndarray:
    """``C Cᵀ`` of a boolean ``N x D`` matrix, exactly, as int64: by the int8 GEMM or the
    float32 matmul (``method``; None: the int8 GEMM where it applies and is the faster here)."""
    # On an accelerator the float32 path below is exact as well (0 and 1 are exact even in
    # TF32, and every partial sum is an integer below 2**24); _int_mm has other shape rules there.
    int8_applies = (_INT_MM and codes.device.type == "cpu" and codes.shape[1] % 8 == 0
                    and codes.shape[0] >= 17)
    if method == "int8" and not int8_applies:
        raise ArgumentError("the int8 GEMM needs a CPU tensor of at least 17 rows and a width "
                            "divisible by 8")
    if method == "int8" or (method is None and int8_applies and int8_gemm_is_faster()):
        # int8 x int8 -> int32 GEMM on the bool bytes themselves (0/1): exact while D < 2**31.
        a = codes.contiguous().view(torch.int8)
        gram = np.zeros((codes.shape[0], codes.shape[0]), dtype=np.int64)
        for start in range(0, codes.shape[1], _EXACT_I32):
            block = a[:, start : start + _EXACT_I32]
            # the transposed view is accepted as is: copying it first cost 3x the GEMM
            gram += torch._int_mm(block, block.t()).cpu().numpy()
        return gram
    gram = np.zeros((codes.shape[0], codes.shape[0]), dtype=np.int64)
    for start in range(0, codes.shape[1], _EXACT_F32 - 1):
        block = codes[:, start : start + _EXACT_F32 - 1].to(torch.float32)
        gram += torch.mm(block, block.t()).cpu().numpy().astype(np.int64)
    return gram


def hamming_kernel(codes: torch.Tensor, multiplicities: list[int] | None = None) -> np.ndarray:
    """The exact kernel of one code matrix (``N x ...``), or of a list of them with multiplicities."""
    blocks = list(codes) if isinstance(codes, list | tuple) else [codes]
    if multiplicities is None:
        multiplicities = [1] * len(blocks)
    if len(multiplicities) != len(blocks):
        raise ArgumentError(
            f"got {len(blocks)} code blocks but {len(multiplicities)} multiplicities"
        )
    if not blocks:
        raise ArgumentError("need at least one code block")
    if not isinstance(blocks[0], torch.Tensor):
        raise ArgumentTypeError(f"codes must be torch.Tensors, got {type(blocks[0]).__name__}")
    acc = KernelAccumulator(int(blocks[0].shape[0]) if blocks[0].dim() else 0)
    for block, m in zip(blocks, multiplicities, strict=True):
        acc.add(block, m)
    return acc.kernel()


def has_identical_codes(kernel: np.ndarray) -> bool:
    """True when two inputs have identical codes: ``K_ij == K_ii == K_jj`` for some ``i != j``.

    For a Gram-type (positive semi-definite) ``K`` this makes ``e_i - e_j`` a null vector, so
    ``det K == 0`` exactly, whatever rounding the LU factorisation would show.
    """
    diag = np.diagonal(kernel)
    same = (kernel == diag[:, None]) & (kernel == diag[None, :])
    np.fill_diagonal(same, False)
    return bool(same.any())


def logdet(kernel: np.ndarray) -> float:
    """NASWOT's score ``slogdet(K)[1]`` (sign dropped, as the official code), ``-inf`` if singular.

    An exactly singular ``K`` gives ``-inf``, never NaN nor a rounding-dependent finite value:
    identical codes for two inputs are detected exactly, and since NASWOT kernels are integer
    matrices, whose determinant is an integer, a computed ``|det K| < 1/2`` means ``det K == 0``
    (LU rounding turns an exact 0 into anything from 0 to ~e**-30 depending on the row order).
    """
    k = np.asarray(kernel)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] == 0:
        raise ArgumentError(f"the kernel must be a non-empty square matrix, got shape {k.shape}")
    if not np.isfinite(k).all():
        raise ArgumentError("the kernel has non-finite entries")
    if has_identical_codes(k):
        return -math.inf
    sign, value = np.linalg.slogdet(k.astype(np.float64))
    if sign == 0 or not np.isfinite(value):
        return -math.inf
    if value < _LOG_HALF and np.array_equal(k, np.round(k)):
        return -math.inf
    return float(value)
