"""The NASWOT kernel math on random binary codes: exact, symmetric, PSD, Hamming, permutation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tfnas.proxies import kernel as kmod
from tfnas.proxies.kernel import KernelAccumulator, hamming_kernel, has_identical_codes, logdet


@st.composite
def code_matrices(draw, min_n: int = 2, max_n: int = 24, max_d: int = 64) -> torch.Tensor:
    n = draw(st.integers(min_n, max_n))
    d = draw(st.integers(1, max_d))
    seed = draw(st.integers(0, 2**32 - 1))
    p = draw(st.floats(0.05, 0.95))
    gen = np.random.default_rng(seed)
    return torch.from_numpy(gen.random((n, d)) < p)


def naive_kernel(codes: torch.Tensor) -> np.ndarray:
    """Per pair: N_A minus the Hamming distance, in Python integers."""
    rows = [[int(v) for v in row] for row in codes.reshape(codes.shape[0], -1).tolist()]
    n_a = len(rows[0])
    return np.array(
        [[n_a - sum(a != b for a, b in zip(ri, rj, strict=True)) for rj in rows] for ri in rows],
        dtype=np.int64,
    )


def official_kernel(codes: torch.Tensor) -> np.ndarray:
    """The official accumulation: float32 c cᵀ + (1-c)(1-c)ᵀ summed into float64."""
    c = codes.reshape(codes.shape[0], -1).float()
    return np.zeros((c.shape[0],) * 2) + (c @ c.t()).numpy() + ((1.0 - c) @ (1.0 - c.t())).numpy()


@given(code_matrices())
def test_kernel_equals_naive_hamming_exactly(codes: torch.Tensor) -> None:
    k = hamming_kernel(codes)
    assert k.dtype == np.int64
    np.testing.assert_array_equal(k, naive_kernel(codes))
    np.testing.assert_array_equal(k, official_kernel(codes))


@given(code_matrices())
def test_kernel_structure(codes: torch.Tensor) -> None:
    k = hamming_kernel(codes)
    n_a = codes[0].numel()
    np.testing.assert_array_equal(k, k.T)
    np.testing.assert_array_equal(np.diagonal(k), np.full(codes.shape[0], n_a))
    assert k.min() >= 0 and k.max() <= n_a
    # positive semi-definite: a Gram matrix of the ±1 codes (up to a factor and N_A 11ᵀ / 2)
    eig = np.linalg.eigvalsh(k.astype(np.float64))
    assert eig.min() >= -1e-9 * max(1.0, float(np.abs(eig).max()))


@given(code_matrices(), st.randoms(use_true_random=False))
def test_permuting_batch_permutes_kernel_and_keeps_score(codes: torch.Tensor, rnd) -> None:
    perm = list(range(codes.shape[0]))
    rnd.shuffle(perm)
    k = hamming_kernel(codes)
    kp = hamming_kernel(codes[perm])
    np.testing.assert_array_equal(kp, k[np.ix_(perm, perm)])
    a, b = logdet(k), logdet(kp)
    assert (a == b == -math.inf) or a == pytest.approx(b, rel=1e-9, abs=1e-9)


@given(code_matrices(), st.data())
def test_identical_codes_give_minus_inf(codes: torch.Tensor, data) -> None:
    i = data.draw(st.integers(0, codes.shape[0] - 1))
    j = data.draw(st.integers(0, codes.shape[0] - 1).filter(lambda v: v != i))
    codes = codes.clone()
    codes[j] = codes[i]
    k = hamming_kernel(codes)
    assert has_identical_codes(k)
    assert logdet(k) == -math.inf
    assert logdet(official_kernel(codes)) == -math.inf


@given(st.lists(code_matrices(min_n=5, max_n=5), min_size=1, max_size=4), st.data())
def test_multiplicity_equals_repetition(blocks: list[torch.Tensor], data) -> None:
    mults = [data.draw(st.integers(0, 4)) for _ in blocks]
    weighted = KernelAccumulator(5)
    repeated = KernelAccumulator(5)
    for block, m in zip(blocks, mults, strict=True):
        weighted.add(block, m)
        for _ in range(m):
            repeated.add(block)
    np.testing.assert_array_equal(weighted.kernel(), repeated.kernel())
    assert weighted.num_units == repeated.num_units == sum(
        m * b[0].numel() for b, m in zip(blocks, mults, strict=True)
    )


@given(code_matrices(min_n=17, max_n=40, max_d=200))
def test_int_and_float_gemm_paths_agree(codes: torch.Tensor) -> None:
    pad = (-codes.shape[1]) % 8  # make the int8 path applicable
    codes = torch.cat([codes, torch.zeros(codes.shape[0], pad, dtype=torch.bool)], dim=1)
    chosen = kmod._gram(codes)  # whichever this processor runs faster
    c = codes.numpy().astype(np.int64)
    for method in ("float32", *(("int8",) if kmod._INT_MM else ())):
        np.testing.assert_array_equal(kmod._gram(codes, method), c @ c.T)
    np.testing.assert_array_equal(chosen, c @ c.T)


def test_float_path_blocks_stay_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    # With tiny blocks the float path must sum many blocks and still be exact.
    monkeypatch.setattr(kmod, "_INT_MM", False)
    monkeypatch.setattr(kmod, "_EXACT_F32", 4)
    gen = np.random.default_rng(7)
    codes = torch.from_numpy(gen.random((6, 50)) < 0.5)
    np.testing.assert_array_equal(hamming_kernel(codes), naive_kernel(codes))


def test_zero_one_numeric_codes_accepted_and_others_refused() -> None:
    codes = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(hamming_kernel(codes), naive_kernel(codes.bool()))
    with pytest.raises(ValueError, match="binary"):
        hamming_kernel(torch.tensor([[0.5, 1.0], [0.0, 1.0]]))


def test_bad_inputs_are_refused() -> None:
    acc = KernelAccumulator(3)
    with pytest.raises(TypeError, match="torch.Tensor"):
        acc.add(np.zeros((3, 2), dtype=bool))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch"):
        acc.add(torch.zeros(4, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="multiplicity"):
        acc.add(torch.zeros(3, 2, dtype=torch.bool), -1)
    with pytest.raises(ValueError, match="batch_size"):
        KernelAccumulator(0)
    with pytest.raises(ValueError, match="multiplicities"):
        hamming_kernel([torch.zeros(3, 2, dtype=torch.bool)], [1, 2])
    with pytest.raises(ValueError, match="square"):
        logdet(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        logdet(np.array([[1.0, np.nan], [np.nan, 1.0]]))


def test_logdet_of_a_known_kernel() -> None:
    # Codes 110, 011 → K = [[3, 1], [1, 3]], det 8.
    codes = torch.tensor([[1, 1, 0], [0, 1, 1]], dtype=torch.bool)
    assert logdet(hamming_kernel(codes)) == pytest.approx(math.log(8.0), rel=1e-12)
    # Every input with the same code (a network whose ReLU inputs are all zero): -inf, not NaN.
    assert logdet(hamming_kernel(torch.zeros(4, 10, dtype=torch.bool))) == -math.inf


@given(st.permutations(range(4)), st.integers(1, 6))
def test_singular_kernel_without_duplicates_is_minus_inf_in_any_order(perm, copies: int) -> None:
    # All four 2-unit codes: K has rank 3 (rows 00 + 11 == rows 01 + 10) but no identical codes.
    codes = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.bool)[list(perm)]
    k = hamming_kernel([codes] * copies)
    assert not has_identical_codes(k)
    assert logdet(k) == -math.inf
