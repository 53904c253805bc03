"""QuadraticNet, the projected loss, the Fourier view and the loss decomposition against direct computations."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest
import torch
from torch import nn

from netoptima.cogo import QuadraticNet, default_init, fourier_weights, loss_decomposition, monomial_potentials
from netoptima.cogo.fourier import fourier_loss, weights_from_fourier
from netoptima.cogo.model import pair_loss, projected_l2_loss, train_test_indices
from netoptima.data import modular_addition, one_hot_pairs


def _random_weights(d: int, q: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(q, d, generator=g, dtype=torch.float64), torch.randn(q, d, generator=g, dtype=torch.float64),
            torch.randn(d, q, generator=g, dtype=torch.float64))


def _slow_loss(W: tuple[torch.Tensor, ...], d: int) -> float:
    """Loop over pairs with an explicit P⊥ matrix: the independent oracle of the projected L2 loss."""
    W_a, W_b, W_c = (w.numpy() for w in W)
    P = np.eye(d) - np.ones((d, d)) / d
    total = 0.0
    for g1 in range(d):
        for g2 in range(d):
            o = W_c @ (W_a[:, g1] + W_b[:, g2]) ** 2
            e = np.zeros(d)
            e[(g1 + g2) % d] = 1
            total += float(np.sum((P @ o - P @ e) ** 2))
    return total / d**2


@pytest.mark.parametrize("d,q,seed", [(5, 3, 0), (7, 5, 1), (11, 9, 2), (23, 17, 3)])
def test_decomposition_equals_direct_loss(d, q, seed):
    W = _random_weights(d, q, seed)
    direct = float(pair_loss(W))
    assert direct == pytest.approx(_slow_loss(W, d), rel=1e-12)  # float64 sums of O(d²q) terms
    # float64: both sides are O(1e3) sums of products; 1e-10 relative is ~1e6 ulps of headroom
    assert float(fourier_loss(*fourier_weights(W))) == pytest.approx(direct, rel=1e-10)


def test_zero_weights_give_one_minus_one_over_d():
    for d in (3, 7, 23):
        Z = tuple(torch.zeros(s, dtype=torch.float64) for s in ((4, d), (4, d), (d, 4)))
        assert float(pair_loss(Z)) == pytest.approx(1 - 1 / d, abs=1e-15)
        ell = loss_decomposition(*fourier_weights(Z))
        assert torch.allclose(ell[1:], torch.ones(d - 1, dtype=torch.float64))  # every X_kk = −1


def test_fourier_conventions_match_explicit_sums():
    d, q = 7, 4
    W_a, W_b, W_c = _random_weights(d, q, 5)
    A, B, C = fourier_weights((W_a, W_b, W_c))
    w = cmath.exp(2j * math.pi / d)
    for k in range(d):
        for j in range(q):
            a = sum(float(W_a[j, g]) * w ** (-k * g) for g in range(d)) / d
            c = sum(float(W_c[g, j]) * w ** (k * g) for g in range(d)) / d  # opposite sign for the output layer
            assert complex(A[k, j]) == pytest.approx(a, abs=1e-13)
            assert complex(C[k, j]) == pytest.approx(c, abs=1e-13)
    assert torch.allclose(A[1:], A[1:].flip(0).conj())  # real weights: A[−k] = conj A[k]
    back = weights_from_fourier(A, B, C)
    for x, y in zip(back, (W_a, W_b, W_c), strict=True):
        assert torch.allclose(x, y, atol=1e-13)


def test_weights_from_fourier_rejects_non_hermitian_blocks():
    A = torch.zeros(5, 2, dtype=torch.complex128)
    A[1, 0] = 1.0  # no conjugate partner at k = −1
    with pytest.raises(ValueError, match="conjugate-symmetric"):
        weights_from_fourier(A, A, A)
    with pytest.raises(ValueError, match="share a shape"):
        weights_from_fourier(A, A[:, :1], A)


def test_potentials_equal_einsum_in_paper_units():
    d, q = 5, 6
    A, B, C = fourier_weights(_random_weights(d, q, 9))
    r, ra, rb = monomial_potentials(A, B, C)
    assert torch.allclose(r, 2 * d * torch.einsum("aj,bj,cj->abc", A, B, C), atol=1e-12)
    assert torch.allclose(ra, 2 * d * torch.einsum("aj,bj,cj->abc", A, A, C), atol=1e-12)
    assert torch.allclose(rb, 2 * d * torch.einsum("aj,bj,cj->abc", B, B, C), atol=1e-12)


def test_forward_on_pairs_one_hot_and_grid_agree():
    d, q = 7, 5
    W = _random_weights(d, q, 4)
    net = QuadraticNet.from_weights(W)
    pairs, y = modular_addition(d)
    o_pairs = net(pairs)
    o_hot = net(one_hot_pairs(pairs, d, dtype=torch.float64))
    assert torch.allclose(o_pairs, o_hot, atol=1e-12)
    assert float(projected_l2_loss(o_pairs, y).detach()) == pytest.approx(float(pair_loss(W)), rel=1e-12)
    with pytest.raises(ValueError, match="shape"):
        net(torch.zeros(3, 3, dtype=torch.long))


def test_default_init_is_the_official_modules_stream():
    d, q, seed = 11, 16, 3
    torch.manual_seed(seed)  # the official ModularAdditionNN builds these modules in this order
    nn.Embedding(d, d)
    la, lb, lc = nn.Linear(d, q, bias=False), nn.Linear(d, q, bias=False), nn.Linear(q, d, bias=False)
    W_a, W_b, W_c = default_init(d, q, seed)
    assert torch.equal(W_a, la.weight.detach()) and torch.equal(W_b, lb.weight.detach())
    assert torch.equal(W_c, lc.weight.detach())


def test_split_is_sklearn_on_the_official_rows():
    from sklearn.model_selection import train_test_split

    d, seed = 23, 4
    pairs, y = modular_addition(d)
    X_tr, X_te, _, _ = train_test_split(pairs.numpy(), y.numpy(), test_size=0.1, random_state=seed)
    tr, te = train_test_indices(d, seed)
    assert sorted(tr.tolist()) == sorted((X_tr[:, 0] * d + X_tr[:, 1]).tolist())
    assert sorted(te.tolist()) == sorted((X_te[:, 0] * d + X_te[:, 1]).tolist())
    assert len(set(tr.tolist()) | set(te.tolist())) == d * d


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="width"):
        QuadraticNet(5, 0)
    with pytest.raises(ValueError, match="weights must have shapes"):
        QuadraticNet.from_weights((torch.zeros(3, 5), torch.zeros(3, 4), torch.zeros(5, 3)))
    with pytest.raises(ValueError, match="test_size"):
        train_test_indices(5, 0, test_size=1.0)
