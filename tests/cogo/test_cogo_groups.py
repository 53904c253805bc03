"""CoGO over finite Abelian groups G = Z_d1 × … × Z_dk (float64): characters, Fourier transform, loss
decomposition and lifted constructions, against brute-force character sums and the direct loss on abelian_task."""

from __future__ import annotations

import cmath
import itertools
import math

import numpy as np
import pytest
import torch

from netoptima.cogo import Solution, fourier_weights, global_optimizer, loss_decomposition
from netoptima.cogo.groups import (
    GroupSolution,
    character_pairs,
    characters,
    check_group,
    group_fourier_loss,
    group_fourier_weights,
    group_global_optimizer,
    group_loss,
    group_loss_decomposition,
    group_weights_from_fourier,
)
from netoptima.cogo.model import QuadraticNet, projected_l2_loss
from netoptima.data import abelian_task

GROUPS = [(7,), (3, 3), (3, 5)]  # one cyclic and two non-cyclic groups (Z_3 × Z_5 ≅ Z_15, Z_3 × Z_3 is not cyclic)


def _random_weights(n: int, q: int, seed: int, lead: tuple[int, ...] = ()) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*lead, q, n, generator=g, dtype=torch.float64),
            torch.randn(*lead, q, n, generator=g, dtype=torch.float64),
            torch.randn(*lead, n, q, generator=g, dtype=torch.float64))


def _brute_characters(orders: tuple[int, ...]) -> np.ndarray:
    """χ[k, g] = Π_i exp(2πi k_i g_i / d_i) by explicit loops over the mixed-radix tuples."""
    elems = list(itertools.product(*(range(d) for d in orders)))  # last factor fastest
    return np.array([[np.prod([cmath.exp(2j * math.pi * ki * gi / d) for ki, gi, d in zip(k, g, orders, strict=True)])
                      for g in elems] for k in elems])


def _direct_loss(weights, orders) -> float:
    """Projected L2 loss of the net on every pair of abelian_task(orders), through the model's forward pass."""
    pairs, targets = abelian_task(orders)
    with torch.no_grad():
        return float(projected_l2_loss(QuadraticNet.from_weights(weights)(pairs), targets))


@pytest.mark.parametrize("orders", [(7,), (3, 3), (3, 5), (5, 3), (3, 4), (3, 3, 3)])
def test_characters_are_products_of_factor_characters_and_orthogonal(orders):
    chi = characters(orders).numpy()
    n = math.prod(orders)
    np.testing.assert_allclose(chi, _brute_characters(orders), atol=1e-12)
    np.testing.assert_allclose(chi @ chi.conj().T, n * np.eye(n), atol=1e-10)
    # a homomorphism: χ_k(g + h) = χ_k(g) χ_k(h), with g + h from the task's table
    pairs, targets = abelian_task(orders)
    np.testing.assert_allclose(chi[:, targets.numpy()], chi[:, pairs[:, 0].numpy()] * chi[:, pairs[:, 1].numpy()],
                               atol=1e-12)


@pytest.mark.parametrize("orders", [(7,), (3, 3), (3, 5), (5, 3), (3, 4), (3, 3, 3)])
def test_group_fourier_transform_matches_brute_force_character_sum(orders):
    n = math.prod(orders)
    W_a, W_b, W_c = _random_weights(n, 5, seed=n, lead=(2,))
    A, B, C = group_fourier_weights((W_a, W_b, W_c), orders)
    chi = torch.as_tensor(_brute_characters(orders))  # (N, N) [k, g]
    A_ref = torch.einsum("kg,sjg->skj", chi.conj(), W_a.to(torch.complex128)) / n
    B_ref = torch.einsum("kg,sjg->skj", chi.conj(), W_b.to(torch.complex128)) / n
    C_ref = torch.einsum("kg,sgj->skj", chi, W_c.to(torch.complex128)) / n
    for X, ref in ((A, A_ref), (B, B_ref), (C, C_ref)):
        assert X.shape == (2, n, 5)
        torch.testing.assert_close(X, ref, atol=1e-12, rtol=0)
    for w, w2 in zip((W_a, W_b, W_c), group_weights_from_fourier(A, B, C, orders), strict=True):
        torch.testing.assert_close(w2, w, atol=1e-12, rtol=0)  # exact round trip


def test_group_fourier_of_a_cyclic_group_is_the_cyclic_transform():
    W = _random_weights(11, 4, seed=3)
    for X, Y in zip(group_fourier_weights(W, 11), fourier_weights(W), strict=True):
        torch.testing.assert_close(X, Y, atol=1e-13, rtol=0)
    torch.testing.assert_close(group_loss_decomposition(*fourier_weights(W), (11,)),
                               loss_decomposition(*fourier_weights(W)), atol=1e-9, rtol=1e-12)


@pytest.mark.parametrize("orders", [*GROUPS, (3, 4)])
@pytest.mark.parametrize("seed", [0, 1])
def test_loss_decomposition_sums_to_the_direct_loss(orders, seed):
    n = math.prod(orders)
    W = _random_weights(n, 6, seed=seed)
    ell = group_loss_decomposition(*group_fourier_weights(W, orders), orders)
    direct = _direct_loss(W, orders)
    assert ell.shape == (n,) and float(ell[0]) == 0.0 and bool((ell >= 0).all())
    assert abs(float(ell.sum()) / n - direct) < 1e-10 * direct
    assert abs(float(group_fourier_loss(*group_fourier_weights(W, orders), orders)) - direct) < 1e-10 * direct
    assert abs(float(group_loss(W, orders)) - direct) < 1e-10 * direct
    zero = tuple(torch.zeros_like(w) for w in W)
    assert float(group_fourier_loss(*group_fourier_weights(zero, orders), orders)) == pytest.approx(1 - 1 / n)


def test_loss_decomposition_needs_the_group_law_not_the_cyclic_one():
    """Z_3 × Z_3 read with Z_9's index arithmetic gives a different ℓ: the decomposition uses G's subtraction."""
    W = _random_weights(9, 6, seed=5)
    ABC = group_fourier_weights(W, (3, 3))
    direct = _direct_loss(W, (3, 3))
    assert abs(float(group_fourier_loss(*ABC, (3, 3))) - direct) < 1e-10 * direct
    assert abs(float(group_fourier_loss(*ABC, (9,))) - direct) > 1e-3 * direct


@pytest.mark.parametrize("orders", [(3, 3), (3, 5), (5, 3), (3, 3, 3)])
@pytest.mark.parametrize("choice, compensation", [(6, "mixed"), ("6ab", "mixed"), (4, "dc"), ("mix", "mixed")])
def test_constructed_optimizers_of_non_cyclic_groups_reach_zero_loss(orders, choice, compensation):
    n = math.prod(orders)
    pairs_k = (n - 1) // 2
    per = [4 if i % 2 else 6 for i in range(pairs_k)] if choice == "mix" else choice
    z = global_optimizer(orders, per, compensation=compensation, seed=7)
    assert isinstance(z, GroupSolution)
    W_a, W_b, W_c = z.to_weights(orders)
    q = z.order
    assert W_a.shape == (q, n) and W_b.shape == (q, n) and W_c.shape == (n, q)
    assert W_a.dtype == torch.float64
    loss = _direct_loss((W_a, W_b, W_c), orders)
    assert loss < 1e-20
    pairs, targets = abelian_task(orders)
    with torch.no_grad():
        assert torch.equal(QuadraticNet.from_weights((W_a, W_b, W_c))(pairs).argmax(1), targets)
    # the decomposition agrees: every character's ℓ_k vanishes
    assert float(group_loss_decomposition(*group_fourier_weights((W_a, W_b, W_c), orders), orders).max()) < 1e-20


@pytest.mark.parametrize("orders", [(3, 3), (3, 5), (3, 3, 3)])
def test_the_cyclic_placement_does_not_solve_a_non_cyclic_group(orders):
    """The same blocks placed at Z_N's frequencies fail on G unless N's group is G: the lift is what solves G."""
    n = math.prod(orders)
    W = global_optimizer(n).to_weights(n)  # the cyclic optimiser of Z_N on the N element indices
    assert _direct_loss(W, orders) > 0.1  # Z_3 × Z_5 ≅ Z_15 too: its mixed-radix indices are not Z_15's residues
    assert _direct_loss(global_optimizer(orders).to_weights(orders), orders) < 1e-20


@pytest.mark.parametrize("d", [7, 9, 23])
def test_global_optimizer_of_an_int_is_unchanged_and_equals_the_one_factor_group(d):
    z = global_optimizer(d)
    assert type(z) is Solution
    zg = global_optimizer((d,))
    assert zg.freqs == z.freqs == tuple(range(1, (d - 1) // 2 + 1))
    assert character_pairs((d,)) == list(range(1, (d - 1) // 2 + 1))
    for w, wg in zip(z.to_weights(d), zg.to_weights((d,)), strict=True):
        torch.testing.assert_close(wg, w, atol=1e-12, rtol=0)
    assert _direct_loss(zg.to_weights(d), (d,)) < 1e-20


def test_character_pairs_cover_every_non_trivial_character_once():
    orders = (3, 3, 5)
    n = 45
    reps = character_pairs(orders)
    assert len(reps) == (n - 1) // 2
    coords = [np.unravel_index(k, orders) for k in reps]
    negs = [int(np.ravel_multi_index(tuple((-np.array(c)) % np.array(orders)), orders)) for c in coords]
    assert sorted(reps + negs) == list(range(1, n))


def test_group_solution_places_the_conjugate_at_minus_k():
    # label 4 = (1, 1) in Z_3 × Z_3; −(1, 1) = (2, 2) = index 8
    z = GroupSolution([1 + 2j], [3 - 1j], [0.5j], freqs=(4,))
    A, B, C = z.fourier((3, 3))
    assert A[4, 0] == 1 + 2j and A[8, 0] == 1 - 2j and B[8, 0] == 3 + 1j and C[8, 0] == -0.5j
    assert int((A.abs() > 0).sum()) == 2
    with pytest.raises(ValueError, match="same character pair"):
        GroupSolution([[1], [1]], [[1], [1]], [[1], [1]], freqs=(4, 8)).fourier((3, 3))


@pytest.mark.parametrize("bad", [(3, 4), (4,), (2, 3), 10])
def test_even_orders_are_refused_with_the_reason(bad):
    match = r"character of order 2.*real" if bad != (2, 3) and bad != 10 else r"must be an (odd )?integer"
    with pytest.raises(ValueError, match=match):
        global_optimizer(bad)
    if isinstance(bad, tuple) and min(bad) >= 3:
        with pytest.raises(ValueError, match=r"character of order 2.*real"):
            GroupSolution.of(global_optimizer(7)).to_weights(bad)


@pytest.mark.parametrize("bad, match", [
    ((), r"G must be an integer d >= 3 or a non-empty sequence of orders >= 3"),
    ([], r"G must be an integer d >= 3 or a non-empty sequence of orders >= 3"),
    ((3, 2.0), r"G\[1\] must be an integer >= 3"),
    ((3, True), r"G\[1\] must be an integer >= 3"),
    ((3, 1), r"G\[1\] must be an integer >= 3"),
    ((100001, 100001), r"G must have a size \|G\| = prod of its orders in \[3, \d+\]"),
])
def test_bad_groups_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        global_optimizer(bad)
    with pytest.raises(ValueError, match=match):
        group_global_optimizer(bad)


@pytest.mark.parametrize("bad", ["35", 3.0, True, None, (3, 3.5)])
def test_check_group_names_the_argument_and_range(bad):
    with pytest.raises(ValueError, match=r"G(\[\d\])? must be an integer"):
        check_group(bad)
    with pytest.raises(ValueError, match=r"G(\[\d\])? must be an integer"):
        characters(bad)


def _random_solution(orders, q: int, seed: int) -> GroupSolution:
    """Random complex coefficients at 3 random character pairs of G (no DC)."""
    rng = np.random.default_rng(seed)
    labels = sorted(rng.choice(character_pairs(orders), size=3, replace=False).tolist())
    a, b, c = (rng.normal(size=(3, q)) + 1j * rng.normal(size=(3, q)) for _ in range(3))
    return GroupSolution(a, b, c, freqs=labels)


@pytest.mark.parametrize("orders", GROUPS)
def test_ring_product_is_the_scaled_convolution_over_the_group(orders):
    """Spec §3 over G: node (j1, j2) of z1 * z2 has weights (1/N)·(W^(j1) ⊛_G W^(j2)), for a, b and c alike."""
    n = math.prod(orders)
    z1, z2 = _random_solution(orders, 2, seed=1), _random_solution(orders, 3, seed=2)
    z2 = GroupSolution(z2.a, z2.b, z2.c, freqs=z1.freqs)  # share the labels so the product is not empty
    W1, W2 = z1.to_weights(orders), z2.to_weights(orders)
    Wp = GroupSolution.of(z1 * z2).to_weights(orders)
    pairs, targets = abelian_task(orders)
    g, h, s = pairs[:, 0], pairs[:, 1], targets

    def conv(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # (x ⊛ y)[s] = Σ_{g + h = s} x[g] y[h]
        return torch.zeros(n, dtype=torch.float64).index_add_(0, s, x[g] * y[h])

    for j1, j2 in itertools.product(range(2), range(3)):
        node = j1 * 3 + j2
        for p in range(2):  # W_a, W_b: rows
            torch.testing.assert_close(Wp[p][node], conv(W1[p][j1], W2[p][j2]) / n, atol=1e-10, rtol=0)
        torch.testing.assert_close(Wp[2][:, node], conv(W1[2][:, j1], W2[2][:, j2]) / n, atol=1e-10, rtol=0)


@pytest.mark.parametrize("orders", GROUPS)
def test_sum_potentials_are_ring_homomorphisms_and_the_weights_round_trip(orders):
    z1, z2 = _random_solution(orders, 2, seed=3), _random_solution(orders, 3, seed=4)
    z2 = GroupSolution(z2.a, z2.b, z2.c, freqs=z1.freqs)
    k = z1.freqs[0]
    for rho in ("abc", "^abc", "a^bc", "aac", "a^ac", "^b^bc"):
        assert abs((z1 + z2).sp(rho, k) - (z1.sp(rho, k) + z2.sp(rho, k))) < 1e-10
        assert abs((z1 * z2).sp(rho, k) - z1.sp(rho, k) * z2.sp(rho, k)) < 1e-9
    W = z1.to_weights(orders)
    back = GroupSolution.from_model(W, orders)
    for w, w2 in zip(W, back.to_weights(orders), strict=True):
        torch.testing.assert_close(w2, w, atol=1e-12, rtol=0)
    for label, row in zip(z1.freqs, z1.a, strict=True):
        torch.testing.assert_close(back.a[back.freqs.index(label)], row, atol=1e-12, rtol=0)
    # the potentials of the weights are those of the ring element: r_kkk = 2N Σ_j a b c at character k
    A, B, C = group_fourier_weights(W, orders)
    n = math.prod(orders)
    r_kkk = complex(2 * n * (A[k] * B[k] * C[k]).sum())
    assert abs(r_kkk - 2 * n * z1.sp("abc", k)) < 1e-9 * max(1.0, abs(r_kkk))
