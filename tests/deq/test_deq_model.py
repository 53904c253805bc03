"""DEQLinear: implicit gradients against central finite differences, the unrolled network, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from netoptima.deq import DEQLinear, ImplicitEquilibrium, NotConverged, equilibrium, unrolled_equilibrium

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny matrices: one torch thread (the shared fixture, restored after)."""


def setup(normalize="column", feature_map=None, width=None, seed=0, d=5, k=3, n=8):
    g = torch.Generator().manual_seed(seed)
    net = DEQLinear(d, k, width=width, gamma=0.8, normalize=normalize, feature_map=feature_map, generator=g,
                    dtype=F64)
    X = torch.randn(n, d, generator=g, dtype=F64)
    Y = torch.randn(n, k, generator=g, dtype=F64)
    return net, X, Y


def explicit_loss(net, X, Y):
    """Oracle: the same loss with U formed by an explicit matrix inverse (no solver, no custom backward)."""
    m = net.width
    U = torch.linalg.inv(torch.eye(m, dtype=F64) - net.gamma * net.sigma())
    Phi = net.features(X)  # (n, m)
    return 0.5 * ((Phi @ U.T @ net.B.T - Y) ** 2).sum()


def central_fd(loss_fn, P, h=1e-6):
    G = torch.zeros_like(P)
    with torch.no_grad():
        flat = P.view(-1)
        for i in range(flat.numel()):
            old = float(flat[i])
            flat[i] = old + h
            lp = float(loss_fn())
            flat[i] = old - h
            lm = float(loss_fn())
            flat[i] = old
            G.view(-1)[i] = (lp - lm) / (2 * h)
    return G


@pytest.mark.parametrize("normalize,feature_map,width", [("column", None, None), ("row", None, None),
                                                         ("column", "random", 3), ("row", "random", 7)])
def test_implicit_gradients_match_finite_differences(normalize, feature_map, width):
    net, X, Y = setup(normalize, feature_map, width)

    def loss():
        return 0.5 * ((net(X) - Y) ** 2).sum()

    gA, gB = torch.autograd.grad(loss(), [net.A, net.B])
    # central differences with h = 1e-6: truncation O(h²)·|f'''| ~ 1e-12, rounding eps·|L|/h ~ 1e-10 relative,
    # both far below the 1e-7 the issue asks for
    for g, P in ((gA, net.A), (gB, net.B)):
        fd = central_fd(loss, P)
        assert float((g - fd).norm() / fd.norm()) < 1e-7


@pytest.mark.parametrize("solver", ["direct", "fixed_point", "anderson", "broyden"])
def test_every_solver_gives_the_same_gradient(solver):
    net, X, Y = setup()
    ref = torch.autograd.grad(explicit_loss(net, X, Y), [net.A, net.B])
    net.solver = solver
    out = net(X)
    got = torch.autograd.grad(0.5 * ((out - Y) ** 2).sum(), [net.A, net.B])
    # forward and adjoint solves both to residual 1e-11: relative error ≤ 1e-11/(1 − γ) per solve
    for a, b in zip(got, ref, strict=True):
        assert float((a - b).norm() / b.norm()) < 1e-9
    assert net.last_info.solver == solver


def test_weight_path_equals_equilibrium_path():
    net, X, Y = setup(feature_map="random", width=4)
    f_eq = net(X)
    f_w = net.features(X) @ net.weight().T
    assert torch.allclose(f_eq, f_w, rtol=0, atol=1e-13)
    g1 = torch.autograd.grad(0.5 * ((f_eq - Y) ** 2).sum(), [net.A, net.B])
    g2 = torch.autograd.grad(0.5 * ((net.features(X) @ net.weight().T - Y) ** 2).sum(), [net.A, net.B])
    for a, b in zip(g1, g2, strict=True):
        assert float((a - b).norm() / b.norm()) < 1e-12


def test_unrolled_gradient_converges_like_gamma_to_the_H():
    # spec B.4: autograd through the depth-H weight-tied stack converges to the implicit gradient like γ^H
    net, X, Y = setup(seed=2)
    S_ref = net.sigma()
    gA_imp, = torch.autograd.grad(0.5 * ((net(X) - Y) ** 2).sum(), [net.A])
    depths = [10, 20, 30, 40, 60]
    errs = []
    for H in depths:
        Z = unrolled_equilibrium(net.sigma(), net.features(X).T, gamma=net.gamma, depth=H)  # (m, n)
        gA, = torch.autograd.grad(0.5 * ((Z.T @ net.B.T - Y) ** 2).sum(), [net.A])
        errs.append(float((gA - gA_imp).norm() / gA_imp.norm()))
    assert torch.equal(S_ref, net.sigma())
    # the error is a sum of terms H·γ^H and γ^H: the fitted decay per layer must be log γ (within 15%, the
    # polynomial factor shifts it by ~1/H)
    slope = np.polyfit(depths, np.log(errs), 1)[0]
    assert slope == pytest.approx(math.log(net.gamma), rel=0.15)
    assert errs[-1] < 1e-4 and all(b < a for a, b in zip(errs, errs[1:], strict=False))


def test_unrolled_forward_error_is_bounded_by_gamma_power():
    net, X, _ = setup(seed=3)
    Phi = net.features(X).T
    Z_star, _ = equilibrium(net.sigma().detach(), Phi, gamma=net.gamma)
    for H in (5, 20, 60):
        Z = unrolled_equilibrium(net.sigma().detach(), Phi, gamma=net.gamma, depth=H)
        # z* − z^(H) = (γS)^H z*, and ‖(γS)^H‖₂ ≤ γ^H √m for a column-stochastic S
        bound = net.gamma**H * math.sqrt(net.width) * float(Z_star.norm())
        assert float((Z - Z_star).norm()) <= bound * (1 + 1e-9)


def test_forward_shapes_and_single_sample():
    net, X, _ = setup()
    assert net(X).shape == (8, 3)
    assert net(X[0]).shape == (3,)
    assert torch.allclose(net(X[0]), net(X)[0], atol=1e-14)
    assert net.equilibrium_point(X).shape == (8, 5)


def test_float32_model_uses_float32_tolerance():
    net = DEQLinear(6, 2, gamma=0.9, solver="anderson", dtype=torch.float32,
                    generator=torch.Generator().manual_seed(0))
    y = net(torch.randn(4, 6))
    assert y.dtype == torch.float32 and net.last_info.residual <= 1e-5


def test_iterative_forward_reports_nonconvergence():
    net, X, _ = setup()
    net.gamma, net.solver, net.max_iter = 0.999, "fixed_point", 20
    with pytest.raises(NotConverged, match="after 20 iterations"):
        net(X)


@pytest.mark.parametrize("kwargs,match", [
    ({"gamma": 1.0}, "gamma must be"), ({"gamma": 0.0}, "gamma must be"), ({"gamma": -1}, "gamma must be"),
    ({"width": 3}, "width must equal in_features=5"), ({"feature_map": "pca"}, "feature_map must be"),
    ({"feature_map": torch.zeros(3, 4)}, r"feature_map must be an \(m, in_features\)"),
    ({"solver": "lbfgs"}, "solver must be one of"), ({"normalize": "both"}, "normalize must be one of"),
    ({"feature_map": "random", "width": 0}, "width must be an integer"),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DEQLinear(5, 2, **kwargs)


def test_bad_input_shape_is_rejected():
    net, _, _ = setup()
    with pytest.raises(ValueError, match=r"x must have shape \(n, 5\)"):
        net(torch.zeros(4, 6, dtype=F64))


def test_implicit_function_never_stores_iterations():
    # the autograd graph of the fixed-point forward holds one node: no unrolled iterations to backprop through
    net, X, _ = setup()
    net.solver = "fixed_point"
    S = net.sigma()
    Z, info = equilibrium(S, net.features(X).T, gamma=net.gamma, solver="fixed_point")
    assert info.iterations > 50
    assert type(Z.grad_fn).__name__ == "ImplicitEquilibriumBackward"
    assert ImplicitEquilibrium is not None
