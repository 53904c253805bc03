"""Property-based tests of ``netoptima.deq``' public functions (issue 17)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _harness import FAST, SLOW, bad_ints, bad_reals, failed, outcome, rejects, tensors
from hypothesis import given
from hypothesis import strategies as st

import netoptima.deq as deq
from netoptima.conventions import TrainingDiverged

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64
GAMMA = st.one_of(st.floats(0.05, 0.95), bad_reals(0.0, 1.0, True), st.just(1.0))
SOLVER = st.sampled_from(list(deq.SOLVERS) + ["newton", None])


def _S(m, seed=0):
    A = torch.randn(m, m, generator=torch.Generator().manual_seed(seed), dtype=F64)
    return deq.stochastic(A)


@FAST
@given(tensors(max_dims=3, max_side=5), st.sampled_from(["column", "row", "none", None]))
def test_stochastic_is_stochastic_or_an_error(A, normalize):
    S = outcome(deq.stochastic, A, normalize=normalize)
    if failed(S):
        return
    assert S.shape == A.shape and bool((S >= 0).all())
    axis = 0 if normalize == "column" else 1
    assert torch.allclose(S.double().sum(axis), torch.ones(A.shape[1 - axis], dtype=F64), atol=1e-3)


@FAST
@given(st.integers(1, 5), st.integers(1, 4), GAMMA, SOLVER, tensors(max_dims=2, max_side=5))
def test_solve_equilibrium_is_the_fixed_point_or_an_error(m, n, gamma, solver, junk):
    S = _S(m)
    Phi = torch.randn(m, n, generator=torch.Generator().manual_seed(1), dtype=F64)
    out = outcome(deq.solve_equilibrium, S, Phi, gamma=gamma, solver=solver, allowed=(deq.NotConverged,))
    if not failed(out):
        Z, info = out
        assert torch.allclose(Z, gamma * S @ Z + Phi, atol=1e-6) and info.residual <= 1e-6
    outcome(deq.solve_equilibrium, S, junk, gamma=0.5)
    outcome(deq.solve_equilibrium, junk, Phi, gamma=0.5)
    outcome(deq.equilibrium, S, junk, gamma=0.5)
    outcome(deq.unrolled_equilibrium, S, junk, gamma=0.5, depth=3)


@FAST
@given(st.integers(1, 4), st.sampled_from([np.nan, np.inf]), st.integers(0, 20))
def test_non_finite_equilibrium_inputs_are_named(m, value, where):
    S = _S(m).clone()
    Phi = torch.ones(m, 2, dtype=F64)
    P = Phi.clone()
    P.view(-1)[where % P.numel()] = value
    rejects(deq.solve_equilibrium, S, P, gamma=0.5, name="Phi")
    S.view(-1)[where % S.numel()] = value
    rejects(deq.solve_equilibrium, S, Phi, gamma=0.5, name="S")


@FAST
@given(st.one_of(st.integers(1, 5), bad_ints(low=1)), st.one_of(st.integers(1, 4), bad_ints(low=1)), GAMMA,
       st.sampled_from([None, "random", "id", torch.ones(3, 2)]), st.one_of(st.none(), st.integers(1, 5)))
def test_deq_linear_constructor_and_forward(d, k, gamma, fmap, width):
    net = outcome(deq.DEQLinear, d, k, gamma=gamma, feature_map=fmap, width=width, dtype=F64,
                  generator=torch.Generator().manual_seed(0))
    if failed(net):
        return
    y = net(torch.ones(3, d, dtype=F64))
    assert y.shape == (3, k) and bool(torch.isfinite(y).all())
    lam = deq.lambda_min_UtU(net)  # 1/‖I − γσ(A)‖², and 1 − γ ≤ ‖I − γσ(A)‖ ≤ 1 + γ (σ(A) stochastic)
    assert 1 / (1 + gamma) ** 2 - 1e-9 <= lam <= 1 / (1 - gamma) ** 2 + 1e-9
    P, PB = deq.function_space_preconditioner(net)
    assert bool(torch.isfinite(P).all()) and torch.allclose(P, P.T, atol=1e-8)


@SLOW
@given(tensors(max_dims=3, max_side=5), tensors(max_dims=3, max_side=5), st.sampled_from(["square", "cross_entropy"]),
       st.one_of(st.floats(1e-3, 0.5), bad_reals(0.0, None, True)), st.one_of(st.integers(0, 3), bad_ints(low=0)))
def test_train_deq_on_arbitrary_data(X, Y, loss, lr, steps):
    net = deq.DEQLinear(X.shape[-1] if X.ndim == 2 and X.shape[-1] else 2, 2, dtype=F64,
                        generator=torch.Generator().manual_seed(0))
    out = outcome(deq.train_deq, net, X, Y, loss=loss, lr=lr, steps=steps, quiet=True, allowed=(TrainingDiverged,))
    if not failed(out):
        assert len(out.loss) == steps and all(math.isfinite(v) for v in out.loss)


@SLOW
@given(st.integers(0, 3), st.integers(1, 4), st.integers(2, 3), st.integers(1, 12),
       st.sampled_from(["square", "cross_entropy"]))
def test_train_deq_on_synthetic_data_reaches_at_least_the_optimum(seed, d, k, n, loss):
    X, Y = deq.synthetic(seed, d, k, n, loss)
    net = deq.DEQLinear(d, k, dtype=F64, generator=torch.Generator().manual_seed(seed))
    opt = deq.linear_optimum(net.features(X).detach(), Y, loss=loss)
    traj = deq.train_deq(net, X, Y, loss=loss, lr=0.05, steps=3, L_star=opt.value, quiet=True)
    assert all(g >= -1e-8 for g in traj.gap)


@FAST
@given(tensors(max_dims=3, max_side=4), tensors(max_dims=3, max_side=4), st.sampled_from(["square", "cross_entropy",
                                                                                         "hinge"]))
def test_loss_value_and_linear_optimum_on_arbitrary_tensors(out, Y, loss):
    v = outcome(deq.loss_value, out, Y, loss=loss)
    if not failed(v):
        assert v.ndim == 0
    opt = outcome(deq.linear_optimum, out, Y, loss=loss)
    if not failed(opt):
        assert math.isfinite(opt.value)


@FAST
@given(tensors(max_dims=3, max_side=4), tensors(max_dims=3, max_side=4), st.one_of(st.floats(1e-3, 10), bad_reals(0.0)))
def test_trust_region_step_on_arbitrary_tensors(G, K, radius):
    out = outcome(deq.trust_region_step, G, K, radius)
    if not failed(out):
        V, _ = out
        assert float(torch.linalg.norm(V)) <= radius * (1 + 1e-6)


@FAST
@given(st.one_of(st.integers(0, 5), bad_ints(low=0)), st.one_of(st.integers(1, 4), bad_ints(low=1)),
       st.one_of(st.integers(1, 4), bad_ints(low=1)), st.one_of(st.integers(1, 6), bad_ints(low=1)),
       st.sampled_from(["square", "cross_entropy", "x"]), st.one_of(st.floats(1, 100), bad_reals(1.0)))
def test_synthetic_shapes_or_an_error(seed, d, k, n, loss, cond):
    out = outcome(deq.synthetic, seed, d, k, n, loss, cond=cond)
    if not failed(out):
        X, Y = out
        assert X.shape == (n, d) and Y.shape[0] == n and bool(torch.isfinite(X).all())


@FAST
@given(st.one_of(st.floats(1e-3, 0.5), bad_reals(0.0, None, True)), st.one_of(st.integers(0, 4), bad_ints(low=0)))
def test_train_params_contract(lr, steps):
    w = torch.ones(2, dtype=F64, requires_grad=True)
    out = outcome(deq.train_params, [w], lambda: (w - 3).pow(2).sum(), lr=lr, steps=steps, quiet=True)
    if not failed(out):
        assert out.steps == steps and all(b <= a + 1e-12 for a, b in zip(out.losses, out.losses[1:], strict=False))
