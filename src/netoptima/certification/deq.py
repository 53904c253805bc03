"""Certifier of deep equilibrium linear models (``netoptima.deq.DEQLinear``): the global optimum L* in closed form.

Mathematics (Kawaguchi 2021). The model is f(x) = B(I − γσ(A))⁻¹φ(x) = Wφ(x) with W = BU, U = (I − γσ(A))⁻¹,
σ(A) row- or column-stochastic and γ ∈ (0, 1), so I − γσ(A) is invertible (its spectral radius γ < 1 part) and
U is. For any A, B ↦ BU is then a bijection of R^{k×m}: the end-to-end maps W the model can represent are all
(k, m) matrices, and its global optimum over (A, B) equals the optimum of the linear model on the features,

    L* = min_W (1/n) Σ_i ℓ(Wφ(x_i), y_i),

attained (whenever the linear problem's is) at every A with B = W*U⁻¹. So the gap is exact:

- ``"mse"`` (the part's ``"square"``, ½‖f − y‖²/n): L* = ‖(ΦΦ⁺ − I)Y‖²/(2n), the least-squares residual
  (``netoptima.deq.linear_optimum``, minimum-norm pseudo-inverse solution, float64). Lower bound = L* (exact up
  to float64 rounding, reported as ``details["kkt_residual"]``).
- ``"cross_entropy"`` (mean cross-entropy, integer labels): no closed form; the lower bound is the Fenchel dual
  of the softmax layer on Φ without bias (``netoptima.certification.softmax``), and the part's Newton solve
  ``linear_optimum`` gives an attained value (an upper estimate of L*) in the details. On separable features
  the infimum 0 is not attained (see the softmax certifier).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from netoptima.certification.core import Certificate, make_certificate
from netoptima.certification.inputs import check_finite_parameters, model_dtype, to_tensor

__all__ = ["certify_deq", "register_deq_model"]


def certify_deq(model: nn.Module, X: Any, y: Any, *, loss: str | None = None, tol: float = 1e-6) -> Certificate:
    """Certificate of a ``DEQLinear`` under ``"mse"`` (½‖f − y‖²/n, the default) or ``"cross_entropy"``.

    Data: X (n, in_features), y (n, out_features) targets (mse; (n,) when out_features = 1) or (n,) labels
    in [0, out_features) (cross-entropy). The model's own regulariser is none (the papers' objective).
    """
    from netoptima.deq import linear_optimum

    if loss not in (None, "mse", "cross_entropy"):
        raise ValueError(f"loss {loss!r} is not supported by the certifier of DEQLinear; it supports 'mse' "
                         "(½‖f − y‖²/n, the default) and 'cross_entropy'")
    loss = loss or "mse"
    dtype, device = model_dtype(model)
    check_finite_parameters(model)
    Xt = to_tensor("X", X, dtype, device)
    if Xt.ndim != 2 or Xt.shape[1] != model.in_features:
        raise ValueError(f"X must have shape (n, {model.in_features}) for this DEQLinear, got {tuple(Xt.shape)}")
    n, k = Xt.shape[0], model.out_features
    with torch.no_grad():
        try:
            Phi = model.features(Xt).double().cpu()  # (n, m)
            W = model.weight().double().cpu()  # (k, m) = BU
        except (RuntimeError, ValueError) as exc:  # the equilibrium solve failed
            raise ValueError(f"the DEQ's equilibrium could not be computed: {' '.join(str(exc).split())[:200]}") \
                from None
    if not (bool(torch.isfinite(W).all())):
        raise ValueError("the DEQ's end-to-end map W = B(I − γσ(A))⁻¹ is not finite; nothing can be certified")
    out = Phi @ W.T  # (n, k)
    details: dict[str, Any] = {"n": n, "width": int(model.width), "outputs": k, "gamma": float(model.gamma),
                               "end_to_end_norm": float(W.norm())}
    reach = ("the end-to-end map W = B(I − γσ(A))⁻¹ ranges over all (k, m) matrices as B varies (γ < 1 and σ(A) "
             "stochastic make I − γσ(A) invertible), so the global optimum over (A, B) is the linear model's "
             "optimum on the features φ(x) (Kawaguchi 2021)")
    if loss == "mse":
        Y = to_tensor("y", y, torch.float64, torch.device("cpu"), rows=n)
        if Y.numel() != n * k:
            raise ValueError(f"y has shape {tuple(Y.shape)} but the model has {k} output(s); y must be (n, {k})"
                             + (" or (n,)" if k == 1 else ""))
        Y = Y.reshape(n, k)
        objective = float((out - Y).pow(2).sum()) / (2 * n)
        opt = linear_optimum(Phi, Y, loss="square")
        Wopt = opt.W.double().cpu()
        kkt = (Phi @ Wopt.T - Y).T @ Phi / n  # (k, m) gradient at the computed optimum
        details.update({"objective_formula": "‖f(X) − y‖²/(2n)", "optimum": float(opt.value),
                        "kkt_residual": float(kkt.norm()), "feature_rank": int(torch.linalg.matrix_rank(Phi))})
        lower = min(float(opt.value), objective)
        assumptions = (reach, "L* is the least-squares residual on Φ, computed in closed form (pseudo-inverse, "
                       "float64); exact up to rounding (details: kkt_residual)")
    else:
        from netoptima.certification.softmax import _labels, dual_bound

        if k < 2:
            raise ValueError("cross_entropy needs a DEQLinear with out_features >= 2 (one logit per class)")
        yl = _labels(y, n, k)
        Y = torch.nn.functional.one_hot(yl, k).double()
        logp = torch.log_softmax(out, dim=1)
        objective = float(-(logp * Y).sum()) / n
        dual, info = dual_bound(Phi, Y, out, weight_decay=0.0, bias=False, bias_decay=False)
        opt = linear_optimum(Phi, yl, loss="cross_entropy")
        lower = max(dual, 0.0)
        details.update({"objective_formula": "(1/n) Σ_i −log softmax(f(x_i))_{y_i}", "dual_value":
                        dual if math.isfinite(dual) else None, "newton_value": float(opt.value),
                        "newton_attained": bool(opt.attained), **info})
        assumptions = (reach, "the lower bound is the Fenchel dual of the softmax problem on Φ at the model's "
                       "projected prediction (netoptima.certification.softmax); the dual constraint ΦᵀQ = ΦᵀY "
                       "holds up to float64 rounding" + ("" if opt.attained else
                                                         "; the infimum is not attained (separable features)"))
    reason = None
    if objective - lower > tol * max(1.0, abs(objective)):
        reason = (f"not at the global optimum: the loss {objective:.6g} is {objective - lower:.3e} above the "
                  f"{'global optimum' if loss == 'mse' else 'dual lower bound'} {lower:.6g}; gradient descent on "
                  "(A, B) converges to it linearly (Kawaguchi 2021), so training longer decreases the gap")
    method = "deq_linear_closed_form" if loss == "mse" else "deq_linear_dual"
    return make_certificate(objective, lower, tol=tol, method=method, assumptions=assumptions, details=details,
                            reason=reason)


def _config(m: Any) -> dict[str, Any]:
    return {"in_features": int(m.in_features), "out_features": int(m.out_features), "width": int(m.width),
            "gamma": float(m.gamma), "feature_map": None if m.R is None else "random", "normalize": m.normalize,
            "solver": m.solver}


def _build(config: dict[str, Any]) -> Any:
    from netoptima.deq import DEQLinear

    config = dict(config)
    if config.get("feature_map") is None:
        config.pop("width", None)
    return DEQLinear(**config)


def register_deq_model() -> None:
    """Make ``DEQLinear`` saveable and loadable by ``netoptima.save`` / ``load`` (R is in the state dict)."""
    from netoptima.certification.io import register_model

    register_model("netoptima.deq.model:DEQLinear", _config, "netoptima.certification.deq:_build")
