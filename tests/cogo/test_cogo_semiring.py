"""Semi-ring properties of Solution: sum potentials are ring homomorphisms; laws via SP values (spec §3, §7.5-6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from netoptima.cogo import Solution
from netoptima.cogo.fourier import fourier_weights, weights_from_fourier
from netoptima.cogo.model import pair_loss

# single-frequency monomials in the code's notation plus cross-frequency ones (labels 1..3, negative = conj)
MONOMIALS = ["abc", "^abc", "a^bc", "ab^c", "aac", "bbc", "^a^ac", "^b^bc", "a^ac", "b^bc", "a", "^c"]
CROSS = [[("a", 1), ("b", 2), ("c", 3)], [("a", -2), ("a", 3), ("c", 1)], [("b", 0), ("c", -1)],
         [("a", 1), ("a", 1), ("b", -3), ("c", 2)]]
TOL = 1e-10  # SPs of O(1) complex entries over ≤ 6·6·6 nodes: float64 error ~1e-14, wide margin


def _solution(rng: np.random.Generator, q: int, freqs: tuple[int, ...]) -> Solution:
    shape = (len(freqs), q)
    rows = [rng.normal(size=shape) + 1j * rng.normal(size=shape) for _ in range(3)]
    if 0 in freqs:  # the DC row of real weights is real
        for r in rows:
            r[freqs.index(0)] = r[freqs.index(0)].real
    return Solution(*rows, freqs=freqs)


def _sps(z: Solution) -> np.ndarray:
    vals = [z.sp(m, k=k) for m in MONOMIALS for k in (1, 2, 3)] + [z.sp(t) for t in CROSS]
    return np.array(vals)


freq_sets = st.sets(st.integers(0, 3), min_size=1, max_size=4).map(lambda s: tuple(sorted(s)))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), q1=st.integers(1, 4), q2=st.integers(1, 4), f1=freq_sets, f2=freq_sets)
def test_sum_potentials_are_ring_homomorphisms(seed, q1, q2, f1, f2):
    rng = np.random.default_rng(seed)
    z1, z2 = _solution(rng, q1, f1), _solution(rng, q2, f2)
    assert np.allclose(_sps(z1 + z2), _sps(z1) + _sps(z2), atol=TOL)
    assert np.allclose(_sps(z1 * z2), _sps(z1) * _sps(z2), atol=TOL)
    assert (z1 + z2).order == q1 + q2 and (z1 * z2).order == q1 * q2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), qs=st.tuples(*[st.integers(1, 3)] * 3), f=freq_sets)
def test_ring_laws_through_potentials(seed, qs, f):
    rng = np.random.default_rng(seed)
    z1, z2, z3 = (_solution(rng, q, f) for q in qs)
    close = lambda x, y: np.allclose(_sps(x), _sps(y), atol=TOL)  # noqa: E731  (equal up to node order)
    assert close((z1 + z2) + z3, z1 + (z2 + z3)) and close((z1 * z2) * z3, z1 * (z2 * z3))
    assert close(z1 + z2, z2 + z1) and close(z1 * z2, z2 * z1)
    assert close(z1 * (z2 + z3), z1 * z2 + z1 * z3)
    assert close(z1 + Solution.zero(), z1) and close(Solution.one(f) * z1, z1)
    assert (z1 * Solution.zero()).order == 0
    assert sum([z1, z2], Solution.zero()).order == z1.order + z2.order


def test_commutativity_is_a_node_permutation():
    rng = np.random.default_rng(0)
    z1, z2 = _solution(rng, 2, (1, 2)), _solution(rng, 3, (1, 2))
    p, q = z1 * z2, z2 * z1
    perm = [j2 * 2 + j1 for j1 in range(2) for j2 in range(3)]  # node (j1, j2) of z1*z2 is (j2, j1) of z2*z1
    for x, y in ((p.a, q.a), (p.b, q.b), (p.c, q.c)):
        assert torch.allclose(x, y[:, perm])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), q1=st.integers(1, 4), q2=st.integers(1, 4))
def test_zero_set_closure(seed, q1, q2):
    rng = np.random.default_rng(seed)
    z1, z2 = _solution(rng, q1, (1,)), _solution(rng, q2, (1,))
    # put z1 in the 0-set of ρ = Σ_j a_j b_j c_j by pairing each node with a sign-flipped copy of its c
    z0 = Solution(torch.cat([z1.a, z1.a], 1), torch.cat([z1.b, z1.b], 1), torch.cat([z1.c, -z1.c], 1))
    assert abs(z0.sp("abc")) < TOL
    assert abs((z0 * z2).sp("abc")) < TOL
    assert abs((z0 * z2).sp("aac") - z0.sp("aac") * z2.sp("aac")) < TOL


@pytest.mark.parametrize("d", [5, 7, 11])
def test_real_weight_round_trip(d):
    g = torch.Generator().manual_seed(d)
    W = (torch.randn(6, d, generator=g, dtype=torch.float64), torch.randn(6, d, generator=g, dtype=torch.float64),
         torch.randn(d, 6, generator=g, dtype=torch.float64))
    back = Solution.from_model(W).to_weights(d)
    for x, y in zip(back, W, strict=True):
        assert torch.allclose(x, y, atol=1e-13)


def test_product_is_the_scaled_circular_convolution_in_weight_space():
    d = 7
    rng = np.random.default_rng(3)
    z1, z2 = _solution(rng, 1, tuple(range(4))), _solution(rng, 1, tuple(range(4)))
    W1, W2, W12 = z1.to_weights(d), z2.to_weights(d), (z1 * z2).to_weights(d)
    for p in range(3):  # a, b, c rows (W_c stored as (d, q))
        x = (W1[p][0] if p < 2 else W1[p][:, 0]).numpy()
        y = (W2[p][0] if p < 2 else W2[p][:, 0]).numpy()
        conv = np.array([sum(x[h] * y[(gg - h) % d] for h in range(d)) for gg in range(d)]) / d
        got = (W12[p][0] if p < 2 else W12[p][:, 0]).numpy()
        assert np.allclose(got, conv, atol=1e-12)


def test_one_is_a_scaled_delta_and_the_identity_keeps_the_loss():
    d = 7
    W = Solution.one(tuple(range(4))).to_weights(d)
    assert torch.allclose(W[0][0], d * torch.eye(d, dtype=torch.float64)[0])
    rng = np.random.default_rng(1)
    z = _solution(rng, 3, tuple(range(4)))
    assert float(pair_loss((Solution.one(tuple(range(4))) * z).to_weights(d))) == pytest.approx(
        float(pair_loss(z.to_weights(d))), rel=1e-12)


def test_fourier_of_a_solution_is_what_fourier_weights_reads_back():
    d = 11
    rng = np.random.default_rng(2)
    z = _solution(rng, 4, (0, 2, 5))
    A, B, C = z.fourier(d)
    A2, B2, C2 = fourier_weights(weights_from_fourier(A, B, C))
    assert torch.allclose(A, A2, atol=1e-13) and torch.allclose(C, C2, atol=1e-13)


def test_bad_blocks_raise_clear_errors():
    with pytest.raises(ValueError, match="one shape"):
        Solution([1, 2], [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="freqs has 2 labels"):
        Solution([1, 2], [1, 2], [1, 2], freqs=(1, 2))
    with pytest.raises(ValueError, match="distinct labels"):
        Solution(np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 1)), freqs=(1, 1))
    with pytest.raises(ValueError, match="DC row"):
        Solution([1j], [1], [1], freqs=(0,))
    with pytest.raises(ValueError, match="same frequency pair"):
        Solution(np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 1)), freqs=(1, 4)).to_weights(5)
    with pytest.raises(ValueError, match="odd"):
        Solution([1], [1], [1]).to_weights(6)
    with pytest.raises(TypeError):
        Solution([1], [1], [1]) + (np.ones(1), np.ones(1), np.ones(1))  # type: ignore[operator]
    with pytest.raises(ValueError, match="monomial"):
        Solution([1], [1], [1]).sp("abx")
