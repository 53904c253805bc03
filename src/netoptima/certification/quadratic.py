"""Certifier of quadratic-activation networks (``netoptima.convex.QuadraticActivationNet``): the trust-region dual.

Mathematics (Bartan & Pilanci, "Neural Spectrahedra and Semidefinite Lifts"; ``netoptima.convex.certificate``).
The network is f(x) = Σ_j α_j σ(xᵀu_j), σ(t) = a t² + b t + c, ‖u_j‖ = 1, trained on

    P(U, α) = ℓ(f(X), y) + β Σ_j |α_j|,     ℓ(ŷ, y) = Σ_i h(ŷ_i − y_i)   (h = ½r², or Huber h_δ).

For every w ∈ R^n, ℓ(ŷ) ≥ wᵀŷ − ℓ*(w) (Fenchel–Young), and wᵀŷ = Σ_j α_j wᵀσ(Xu_j) ≥ −Σ_j |α_j| · M(w) with
M(w) = max_{‖u‖=1} |wᵀσ(Xu)|. So if M(w) ≤ β, P ≥ −ℓ*(w) for *every* network of any width: −ℓ*(w) is a lower
bound on the global optimum p* (which equals the value of the lifted SDP). wᵀσ(Xu) = uᵀQu + gᵀu + cΣw with
Q = a Xᵀdiag(w)X, g = b Xᵀw is a trust-region subproblem, solved exactly by one d×d eigendecomposition, so M(w)
is certified. The dual point is w = t·∇ℓ(f(X)) with the best feasible t (|t| ≤ β/M); at a global optimum the
KKT conditions make M(∇ℓ) = β and the bound tight (gap 0).

Losses here: ``None`` is the part's own objective ½‖f − y‖² + β‖α‖₁ (summed over samples, as in
``netoptima.convex.objective``); ``"mse"`` is ‖f − y‖²/(2n) + β‖α‖₁ and ``"huber"`` (1/n)Σ h_δ(r_i) + β‖α‖₁:
both are (1/n)·(the part's objective with β' = nβ), so the part's certificate is computed at β' and divided by n.
"""

from __future__ import annotations

import math
from typing import Any

from netoptima.certification.core import Certificate, make_certificate
from netoptima.certification.inputs import check_finite_parameters

__all__ = ["certify_quadratic", "register_quadratic_model"]


def _config(net: Any) -> dict[str, Any]:
    return {"d": int(net.d), "width": int(net.width), "activation": [float(v) for v in net.abc]}


def _build(config: dict[str, Any]) -> Any:
    from netoptima.convex import QuadraticActivationNet

    if set(config) != {"d", "width", "activation"}:
        raise ValueError(f"a QuadraticActivationNet config has keys d, width, activation; got {sorted(config)}")
    return QuadraticActivationNet(int(config["d"]), int(config["width"]), activation=config["activation"])


def register_quadratic_model() -> None:
    """Make ``QuadraticActivationNet`` saveable and loadable by ``netoptima.save`` / ``load``."""
    from netoptima.certification.io import register_model
    from netoptima.convex import QuadraticActivationNet

    register_model(QuadraticActivationNet, _config, _build)


def certify_quadratic(model: Any, X: Any, y: Any, *, loss: str | None = None, tol: float = 1e-6,
                      beta: float | None = None, delta: float = 1.0, rtol: float = 1e-10) -> Certificate:
    """Certificate of a ``QuadraticActivationNet`` under ℓ(f(X), y) + β Σ|α_j| (module docstring).

    Options:
        beta: β > 0, the ℓ1 weight of the training objective (required: it is part of the problem).
        delta: the Huber threshold δ (``loss="huber"``).
        rtol: tolerance of the trust-region hard-case test.

    Raises:
        ValueError: no or bad β, a loss other than None / "mse" / "huber", bad data, neurons off the unit sphere
            (call ``net.project_()``).
    """
    from netoptima.convex import certificate

    if loss not in (None, "mse", "huber"):
        raise ValueError(f"loss {loss!r} is not supported by the certifier of QuadraticActivationNet; it supports "
                         "None (½‖f − y‖² + β‖α‖₁), 'mse' (‖f − y‖²/(2n) + β‖α‖₁) and 'huber'")
    if beta is None:
        raise ValueError("the certifier of QuadraticActivationNet needs the option beta (β > 0, the ℓ1 weight of "
                         "the training objective ℓ(f(X), y) + β Σ|α_j|), e.g. certify(net, X, y, beta=0.1)")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    check_finite_parameters(model)
    n = _rows(X)
    scale = 1.0 if loss is None else float(n)  # mse / huber: the part's objective at β' = nβ, divided by n
    part_loss = "huber" if loss == "huber" else "squared"
    c = certificate(model, X, y, beta=float(beta) * scale, loss=part_loss, delta=delta, rtol=rtol)
    objective, lower = c.objective / scale, c.lower_bound / scale
    formula = {None: "½‖f(X) − y‖² + β‖α‖₁", "mse": "‖f(X) − y‖²/(2n) + β‖α‖₁",
               "huber": "(1/n) Σ_i h_δ(f(x_i) − y_i) + β‖α‖₁"}[loss]
    details = {"objective_formula": formula, "beta": float(beta), "n": n, "width": int(model.width),
               "d": int(model.d), "activation": [float(v) for v in model.abc],
               "dual_max_over_beta": float(c.dual_max / c.beta), "dual_scale": float(c.scale),
               "hard_case": bool(c.hard_case), "worst_neuron": [float(v) for v in c.worst_neuron.tolist()],
               "worst_sign": float(c.worst_sign)}
    if loss == "huber":
        details["delta"] = float(delta)
    assumptions = (
        "the training problem is min over networks of any width with unit-norm neurons ‖u_j‖ = 1; the lower "
        "bound −ℓ*(w) holds for every such network (weak duality), so it bounds the global optimum (the SDP value)",
        "max_{‖u‖=1} |wᵀσ(Xu)| is computed exactly by a trust-region subproblem (one d×d eigendecomposition); "
        "the bound is exact up to float64 rounding",
    )
    reason = None
    if objective - lower > tol * max(1.0, abs(objective)):
        ratio = c.dual_max / c.beta
        reason = (f"not certified: the dual point is infeasible by the factor max_u |wᵀσ(Xu)|/β = {ratio:.6g} "
                  "(1 at a global optimum); adding the neuron in details['worst_neuron'] decreases the objective"
                  if ratio > 1 + 1e-9 else
                  "not certified: the output weights α are not optimal for the current neurons (the residual "
                  "is not the optimal dual point)")
    return make_certificate(objective, lower, tol=tol, method="quadratic_trust_region_dual",
                            assumptions=assumptions, details=details, reason=reason)


def _rows(X: Any) -> int:
    shape = getattr(X, "shape", None)
    if shape is None:
        try:
            return len(X)
        except TypeError:
            raise ValueError(f"X must be an (n, d) array or tensor, got {type(X).__name__}") from None
    if len(shape) != 2:
        raise ValueError(f"X must be an (n, d) array or tensor, got shape {tuple(shape)}")
    return int(shape[0])
