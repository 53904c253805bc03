"""Equilibrium solvers against the exact LU solve, spectral radius, failure messages and input validation."""

from __future__ import annotations

import math

import pytest
import torch

from netoptima.deq import NotConverged, solve_equilibrium, stochastic

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny matrices: one torch thread (the shared fixture, restored after)."""


def problem(m: int, n: int, *, seed: int = 0, a_std: float = 1.0, normalize: str = "column"):
    g = torch.Generator().manual_seed(seed)
    S = stochastic(a_std * torch.randn(m, m, generator=g, dtype=F64), normalize=normalize)  # (m, m)
    Phi = torch.randn(m, n, generator=g, dtype=F64)  # (m, n)
    return S, Phi


def exact(S, Phi, gamma):
    # independent oracle: explicit inverse (not the LU path the solvers use)
    return torch.linalg.inv(torch.eye(S.shape[0], dtype=F64) - gamma * S) @ Phi


@pytest.mark.parametrize("normalize", ["column", "row"])
@pytest.mark.parametrize("a_std", [0.0, 1.0, 5.0])
def test_spectral_radius_is_gamma(normalize, a_std):
    # a stochastic σ(A) has ρ = 1 exactly (Perron), so ρ(γσ(A)) = γ for every A (spec B.2)
    S, _ = problem(12, 1, seed=3, a_std=a_std, normalize=normalize)
    rho = float(torch.linalg.eigvals(0.8 * S).abs().max())
    assert rho == pytest.approx(0.8, abs=1e-12)
    sums = S.sum(dim=0 if normalize == "column" else 1)
    assert torch.allclose(sums, torch.ones(12, dtype=F64), atol=1e-14)


@pytest.mark.parametrize("solver", ["direct", "fixed_point", "anderson", "broyden"])
@pytest.mark.parametrize("gamma", [0.5, 0.8, 0.99])
def test_solvers_match_exact(solver, gamma):
    S, Phi = problem(24, 7, seed=1)
    Z, info = solve_equilibrium(S, Phi, gamma=gamma, solver=solver, max_iter=4000)
    ref = exact(S, Phi, gamma)
    # residual ≤ tol = 1e-11 and ‖U‖₂ ≤ 1/(1 − γ) bound the relative error by 1e-11/(1 − γ) ≤ 1e-9; the inverse
    # oracle itself carries ~κ(I − γS)·eps ≲ 1e-13
    assert float((Z - ref).norm() / ref.norm()) <= 1e-11 / (1 - gamma) + 1e-12
    assert info.solver == solver and info.residual <= 1e-11
    recomputed = float((Z - gamma * S @ Z - Phi).norm() / Phi.norm())
    # same quantity summed in another order: rounding ≤ eps·(‖Z‖ + ‖γSZ‖ + ‖Φ‖)/‖Φ‖ ≤ 1e-16·(2/(1 − γ) + 1) ≲ 3e-14
    assert info.residual == pytest.approx(recomputed, rel=1e-6, abs=1e-13)
    assert (info.iterations == 0) if solver == "direct" else (info.iterations >= 1)


@pytest.mark.parametrize("solver", ["anderson", "broyden"])
def test_accelerated_solvers_handle_gamma_near_one(solver):
    # γ = 0.999 needs ~2.5e4 plain iterations; the quasi-Newton solvers isolate the Perron mode in a few
    S, Phi = problem(48, 5, seed=2)
    Z, info = solve_equilibrium(S, Phi, gamma=0.999, solver=solver)
    ref = exact(S, Phi, 0.999)
    assert float((Z - ref).norm() / ref.norm()) <= 1e-8
    assert info.iterations < 100


def test_fixed_point_iteration_count_matches_gamma_power():
    # spec B.8 check 1: about log(1e-13)/log γ iterations reach 1e-12 agreement with the exact solve
    gamma = 0.8
    S, Phi = problem(16, 4, seed=4)
    Z, info = solve_equilibrium(S, Phi, gamma=gamma, solver="fixed_point", tol=1e-13)
    ref = exact(S, Phi, gamma)
    assert float((Z - ref).norm() / ref.norm()) < 1e-12
    predicted = math.log(1e-13) / math.log(gamma)  # 134
    assert 0.5 * predicted <= info.iterations <= 1.5 * predicted


@pytest.mark.parametrize("solver", ["fixed_point", "anderson", "broyden"])
def test_torchdeq_backend_matches_exact(solver):
    S, Phi = problem(16, 5, seed=5)
    gamma = 0.5
    try:
        Z, info = solve_equilibrium(S, Phi, gamma=gamma, solver=solver, backend="torchdeq", tol=1e-9,
                                    max_iter=300)
    except NotConverged as exc:  # torchdeq's ridge-regularised Anderson may stall: the error must say so
        assert solver == "anderson" and "torchdeq:anderson" in str(exc)
        return
    ref = exact(S, Phi, gamma)
    assert info.backend == "torchdeq" and info.residual <= 1e-9
    assert float((Z - ref).norm() / ref.norm()) <= 1e-9 / (1 - gamma)


def test_not_converged_names_residual_and_iterations():
    S, Phi = problem(8, 3, seed=6)
    with pytest.raises(NotConverged, match=r"residual [0-9.e+-]+ > tol 1e-11 after 50 iterations") as err:
        solve_equilibrium(S, Phi, gamma=0.999, solver="fixed_point", max_iter=50)
    assert err.value.iterations == 50 and err.value.residual > 1e-11


def test_zero_input_gives_zero_equilibrium():
    S, Phi = problem(5, 2)
    Z, info = solve_equilibrium(S, torch.zeros_like(Phi), gamma=0.8, solver="anderson")
    assert torch.count_nonzero(Z) == 0 and info.residual == 0.0


@pytest.mark.parametrize("gamma", [0, 1, 1.0, -0.2, 1.5, float("nan"), float("inf"), True, "0.5"])
def test_bad_gamma_is_rejected(gamma):
    S, Phi = problem(4, 2)
    with pytest.raises(ValueError, match="gamma must be a finite number in"):
        solve_equilibrium(S, Phi, gamma=gamma)


def test_bad_shapes_and_names_are_rejected():
    S, Phi = problem(4, 2)
    with pytest.raises(ValueError, match=r"Phi must have shape \(m, n\) = \(4, n\)"):
        solve_equilibrium(S, torch.zeros(3, 2, dtype=F64), gamma=0.5)
    with pytest.raises(ValueError, match="S must be a square"):
        solve_equilibrium(S[:3], Phi, gamma=0.5)
    with pytest.raises(ValueError, match="solver must be one of"):
        solve_equilibrium(S, Phi, gamma=0.5, solver="newton")
    with pytest.raises(ValueError, match="backend must be one of"):
        solve_equilibrium(S, Phi, gamma=0.5, backend="jax")
    with pytest.raises(ValueError, match="tol must be"):
        solve_equilibrium(S, Phi, gamma=0.5, solver="anderson", tol=0.0)
