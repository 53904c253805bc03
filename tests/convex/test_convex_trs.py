"""The trust-region subproblem max_{‖u‖=1} uᵀQu + gᵀu: brute-force grid, random sampling, hard case, null space."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from netoptima.convex.trs import sphere_extrema, trs_max, trs_max_eig


def _q(U: np.ndarray, Q: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.einsum("ij,jk,ik->i", U, Q, U) + U @ g


def _circle(m: int = 200_001) -> np.ndarray:
    th = np.linspace(0.0, 2 * np.pi, m)
    return np.stack([np.cos(th), np.sin(th)], axis=1)


@pytest.mark.parametrize("seed", range(16))
def test_trs_matches_a_brute_force_grid_in_2d(seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((2, 2))
    Q = A + A.T
    g = rng.standard_normal(2) * [1.0, 1e-3, 1e-9, 0.0][seed % 4]
    sol = trs_max(Q, g)
    grid = _q(_circle(), Q, g).max()
    # grid step h = 2π/2e5; on u(θ) = (cos θ, sin θ), |q''| <= 4‖Q‖ + ‖g‖, so the best grid point is within
    # ½|q''|(h/2)² = (4‖Q‖ + ‖g‖)h²/8 of the true max
    h = 2 * np.pi / 2e5
    slack = (4 * np.linalg.norm(Q, 2) + np.linalg.norm(g)) * h * h / 8 + 1e-13
    assert grid <= sol.value + 1e-12  # the TRS value is never beaten
    assert sol.value <= grid + slack  # and the grid gets within its resolution of it
    assert sol.value <= sol.upper <= sol.value + 1e-10 * max(1.0, np.abs(Q).max())
    assert np.linalg.norm(sol.u) == pytest.approx(1.0, abs=1e-12)
    assert _q(sol.u[None], Q, g)[0] == pytest.approx(sol.value, abs=1e-12)


@pytest.mark.parametrize("d", [3, 8, 20])
def test_trs_is_never_exceeded_by_random_unit_vectors(d):
    rng = np.random.default_rng(d)
    A = rng.standard_normal((d, d))
    Q, g = A + A.T, rng.standard_normal(d)
    sol = trs_max(Q, g)
    U = rng.standard_normal((100_000, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    assert _q(U, Q, g).max() <= sol.value + 1e-12
    # first-order optimality: (μI − Q)u = g/2 with μ >= λ_max(Q)
    assert np.allclose((sol.multiplier * np.eye(d) - Q) @ sol.u, g / 2, atol=1e-9)
    assert sol.multiplier >= np.linalg.eigvalsh(Q)[-1] - 1e-12


def test_hard_case_with_repeated_top_eigenvalue_and_rounding_noise():
    """Spec §3.6: two equal top eigenvalues and g-components of 1e-13 must be detected as the hard case."""
    rng = np.random.default_rng(0)
    V = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    lam = np.array([-2.0, -1.0, 0.5, 1.0, 3.0, 3.0 + 1e-15])
    Q = V @ np.diag(lam) @ V.T
    gamma = np.array([0.3, -0.2, 0.4, 0.1, 1e-13, -1e-13])  # orthogonal to the top eigenspace up to rounding
    g = V @ gamma
    sol = trs_max(Q, g)
    assert sol.hard_case
    # closed form of the hard case: λ_max + Σ_{i∉top} γ_i²/(4(λ_max − λ_i))
    exact = 3.0 + sum(gamma[i] ** 2 / (4 * (3.0 - lam[i])) for i in range(4))
    assert sol.value == pytest.approx(exact, abs=1e-12)
    assert sol.upper == pytest.approx(exact, abs=1e-12)
    U = rng.standard_normal((100_000, 6))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    assert _q(U, Q, g).max() <= sol.value + 1e-12


def test_near_hard_case_is_continuous():
    """γ_top slightly above the tolerance (easy case) must give nearly the hard-case value."""
    lam = np.array([0.0, 1.0, 2.0])
    base = 2.0 + 0.25 / 8 + 0.09 / 4  # γ = (0.5, 0.3, 0): λ_max + Σ γ²/(4(λ_max − λ_i))
    for eps in (0.0, 1e-12, 1e-8, 1e-6):
        sol = trs_max_eig(lam, np.eye(3), np.array([0.5, 0.3, eps]))
        # the maximum moves by at most |γ_top| (the linear term's size)
        assert base - 1e-12 <= sol.value <= base + eps + 1e-12
        assert sol.value <= sol.upper <= sol.value + 1e-9


def test_d1_and_zero_g():
    assert trs_max(np.array([[2.0]]), np.array([-3.0])).value == pytest.approx(5.0)  # u = −1
    sol = trs_max(np.diag([1.0, 4.0, 4.0]), np.zeros(3))
    assert sol.hard_case and sol.value == pytest.approx(4.0)


def test_sphere_extrema_gives_min_and_max():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 5))
    Q, g = A + A.T, rng.standard_normal(5)
    hi, lo = sphere_extrema(Q, g)
    assert hi.value == pytest.approx(trs_max(Q, g).value, abs=1e-12)
    assert -lo.value == pytest.approx(-trs_max(-Q, -g).value, abs=1e-12)  # min q = −max(−q)
    U = rng.standard_normal((50_000, 5))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    q = _q(U, Q, g)
    assert -lo.value <= q.min() + 1e-12 and q.max() <= hi.value + 1e-12


@pytest.mark.parametrize("seed", range(30))
def test_null_direction_equals_the_full_problem(seed):
    """A subspace problem plus a Q = 0, g = 0 complement (has_null) equals the full TRS (independent route)."""
    rng = np.random.default_rng(100 + seed)
    r = int(rng.integers(1, 5))
    A = rng.standard_normal((r, r))
    Qr = A + A.T - [0.0, 6.0][seed % 2] * np.eye(r)  # half of them negative definite: the optimum is in the null
    g = rng.standard_normal(r) * [1.0, 1e-3, 0.0][seed % 3]
    Q = np.zeros((r + 1, r + 1))
    Q[:r, :r] = Qr
    full = trs_max(Q, np.append(g, 0.0))
    lam, V = scipy.linalg.eigh(Qr)
    red = trs_max_eig(lam, V, g, has_null=True)
    u = np.append(red.u, red.null_weight)
    assert math.isclose(np.linalg.norm(u), 1.0, abs_tol=1e-12)
    assert red.value == pytest.approx(full.value, abs=1e-11)
    assert _q(u[None], Q, np.append(g, 0.0))[0] == pytest.approx(red.value, abs=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="square"):
        trs_max(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="symmetric"):
        trs_max(np.array([[0.0, 1.0], [0.0, 0.0]]), np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        trs_max(np.array([[np.nan]]), np.zeros(1))
