"""Certifier for any differentiable ``nn.Module`` under the squared loss: the PL / NTK diagnosis and the exact
last-layer optimum.

**The PL diagnosis.** With f = vec(model(X)) ∈ R^{n·c}, r = f − y, J = ∂f/∂θ over the trainable parameters and
L(θ) = ‖r‖²/(2n):

    ∇L = Jᵀr / n,   ‖∇L‖² = rᵀ(JJᵀ)r / n² ≥ λ_min(JJᵀ)·‖r‖²/n² = (2/n)·λ_min(JJᵀ)·L.

So where the Jacobian Gram JJᵀ (``netoptima.ntk.ntk_gram``) is non-singular, a stationary point is a global
minimum (L = 0), and a small gradient bounds the loss: L ≤ n‖∇L‖² / (2 λ_min(JJᵀ)). The global lower bound is
L* ≥ 0 (the loss is non-negative), so the gap is L itself: the certifier's value is the diagnosis. Both ‖∇L‖²
and λ_min come from the one Gram: ‖∇L‖² = rᵀGr/n² and λ_min = eigvalsh(G)[0].

**Radius statement** (an assumption, not checked). If λ_min(J(θ)J(θ)ᵀ) ≥ λ > 0 on the ball ‖θ − θ₀‖ ≤ R with
R = ‖r(θ₀)‖ / √λ, then gradient flow from θ₀ stays in that ball and converges to a zero-loss point in it: along
the flow, d√L/dt = −‖∇L‖²/(2√L) ≤ −‖∇L‖·√(λ/(2n)), so the path length ∫‖∇L‖dt ≤ √(2nL₀/λ) = ‖r₀‖/√λ, and
L(t) ≤ e^{−2λt/n}L₀. This is the argument of Liu, Zhu & Belkin (2022), "Loss landscapes and optimization in
over-parameterized non-linear systems and neural networks", ACHA 59, Theorem 6 (their version for gradient
descent needs the Lipschitz constant of f as well). The report gives R at λ = λ_min(now) and at λ_min(now)/2.

**No global bound** is available beyond L* ≥ 0 with weight decay (the optimum is then positive and unknown) or
with fewer trainable parameters than outputs (P < n·c: rank J ≤ P, so JJᵀ is singular and interpolation is not
implied): the certificate says so in ``details["reason"]``.

**Last layer** (``last_layer=True``). With the features A (n, k) entering the last ``nn.Linear`` held fixed, the
problem over its weight and bias, min ‖A Wᵀ + b − Y‖²/(2n) (+ (λ/2)(‖W‖² + ‖b‖²) with ``weight_decay=λ``), is
convex and solved exactly by least squares (SVD-based ``gelsd``). The lower bound is that optimum plus the
weight-decay term of the other layers: a bound *conditional on the features*, not on the global optimum.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from netoptima.certification.core import Certificate, make_certificate
from netoptima.certification.inputs import (
    check_deterministic,
    check_finite_parameters,
    forward,
    model_dtype,
    regression_targets,
    to_tensor,
)
from netoptima.conventions import check_choice, check_int, check_real

__all__ = ["certify_module"]

OBJECTIVE = "‖f(X) − y‖²/(2n)"


def _check_loss(loss: str | None, model: nn.Module) -> None:
    if loss not in (None, "mse"):
        raise ValueError(f"loss {loss!r} is not supported by the certifier of a generic nn.Module "
                         f"({type(model).__name__}); it supports 'mse' (‖f − y‖²/(2n))")


def certify_module(model: nn.Module, X: Any, y: Any, *, loss: str | None = None, tol: float = 1e-6,
                   weight_decay: float = 0.0, last_layer: bool = False, float64: bool = False,
                   rcond: float | None = None, ntk_method: str = "auto", max_gram_size: int = 16384,
                   ) -> Certificate:
    """Certificate of a differentiable model under L = ‖f(X) − y‖²/(2n) (+ (λ/2)‖θ‖² with ``weight_decay=λ``).

    Options:
        weight_decay: λ ≥ 0, the L2 term (λ/2)‖θ‖² over the trainable parameters.
        last_layer: certify the last ``nn.Linear`` on the current features (exact least squares) instead.
        float64: certify a float64 copy of the model (the model itself is left alone).
        rcond: λ_min(JJᵀ) ≤ rcond · λ_max counts as singular; default n·c · the dtype's machine epsilon.
        ntk_method: passed to ``ntk_gram`` (``"auto"``, ``"layerwise"``, ``"func"``).
        max_gram_size: refuse (ValueError) a Gram larger than this many rows n·c (16384: 2 GB in float64)
            instead of running out of memory; certify a subsample, or use ``last_layer=True``.

    See the module docstring for the mathematics. Cost: one forward pass, one ``ntk_gram`` and one (n·c)²
    symmetric eigenvalue problem (only the forward pass and one backward pass when no Gram is needed).
    """
    _check_loss(loss, model)
    weight_decay = check_real("weight_decay", weight_decay, low=0.0)
    if not isinstance(last_layer, bool) or not isinstance(float64, bool):
        raise ValueError(f"last_layer and float64 must be True or False, got {last_layer!r}, {float64!r}")
    if rcond is not None:
        rcond = check_real("rcond", rcond, low=0.0)
    from netoptima.ntk import METHODS

    check_choice("ntk_method", ntk_method, METHODS)
    max_gram_size = check_int("max_gram_size", max_gram_size, low=1)
    dtype, device = model_dtype(model)
    if float64 and dtype != torch.float64:
        model, dtype = copy.deepcopy(model).to(torch.float64), torch.float64
    check_finite_parameters(model)
    check_deterministic(model)
    Xt = to_tensor("X", X, dtype, device)
    yt = to_tensor("y", y, dtype, device, rows=Xt.shape[0])
    if last_layer:
        return _last_layer(model, Xt, yt, tol=tol, weight_decay=weight_decay)
    return _pl(model, Xt, yt, tol=tol, weight_decay=weight_decay, rcond=rcond, ntk_method=ntk_method,
               max_gram_size=max_gram_size)


def _trainable(model: nn.Module) -> list[Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def _sq_norm(params: list[Tensor]) -> float:
    return float(sum(float(p.detach().double().pow(2).sum()) for p in params))


def _grad_norm(model: nn.Module, X: Tensor, Y: Tensor, weight_decay: float) -> float:
    """‖∇(L + (λ/2)‖θ‖²)‖ over the trainable parameters, by autograd."""
    params = _trainable(model)
    with torch.enable_grad():
        out = model(X).reshape(Y.shape)
        obj = (out - Y).pow(2).sum() / (2 * X.shape[0])
        grads = torch.autograd.grad(obj, params, allow_unused=True)
    total = 0.0
    for p, g in zip(params, grads, strict=True):
        g = torch.zeros_like(p) if g is None else g
        total += float((g.double() + weight_decay * p.detach().double()).pow(2).sum())
    return math.sqrt(total)


def _pl(model: nn.Module, X: Tensor, y: Tensor, *, tol: float, weight_decay: float, rcond: float | None,
        ntk_method: str, max_gram_size: int) -> Certificate:
    out = forward(model, X)  # (n, c)
    Y = regression_targets(y, out)
    n, c = out.shape
    N = n * c
    r = (out.double() - Y.double()).reshape(-1)  # (n·c,) sample-major, as the Gram's rows
    loss = float(r @ r) / (2 * n)
    params = _trainable(model)
    P = sum(p.numel() for p in params)
    wd_term = 0.5 * weight_decay * _sq_norm(params)
    objective = loss + wd_term
    details: dict[str, Any] = {"objective_formula": OBJECTIVE + (" + (λ/2)‖θ‖²" if weight_decay else ""),
                               "loss": loss, "weight_decay": weight_decay, "n": n, "outputs_per_sample": c,
                               "trainable_parameters": P, "param_norm": math.sqrt(_sq_norm(params)),
                               "dtype": str(X.dtype).replace("torch.", ""), "training_mode": model.training}
    base = ("L* ≥ 0: the squared loss (and the weight-decay term) is non-negative, so 0 is a lower bound on the "
            "global optimum; it is attained only if the network can interpolate the data",)
    method = "squared_loss_pl"
    if P == 0:
        raise ValueError(f"the model ({type(model).__name__}) has no trainable parameters (requires_grad=True)")
    if weight_decay > 0 or P < N:
        details["grad_norm"] = _grad_norm(model, X, Y, weight_decay)
        if weight_decay > 0:
            why = (f"with weight decay λ = {weight_decay:g} the global optimum is positive and not known, so no "
                   "global bound beyond L* ≥ 0 is available (the PL argument needs a zero-loss optimum); try "
                   "last_layer=True for the exact optimum of the last layer on the current features")
        else:
            why = (f"too few trainable parameters to interpolate: P = {P} < n·c = {N}, so JJᵀ is singular "
                   "(rank ≤ P) and no global bound beyond L* ≥ 0 is available")
        reason = why if objective > tol * max(1.0, objective) else None
        return make_certificate(objective, 0.0, tol=tol, method=method, assumptions=base, details=details,
                                reason=reason)

    if N > max_gram_size:
        raise ValueError(f"the Jacobian Gram would have n·c = {N} rows, above max_gram_size = {max_gram_size} "
                         f"({N * N * 8 / 1e9:.1f} GB in float64); certify a subsample of the data, raise "
                         "max_gram_size, or use last_layer=True")
    from netoptima.ntk import ntk_gram

    G = ntk_gram(model, X, method=ntk_method).double()  # (N, N)
    G = 0.5 * (G + G.T)
    try:
        eig = torch.linalg.eigvalsh(G)
    except RuntimeError as exc:  # torch.linalg.LinAlgError: eigenvalues did not converge
        details["reason"] = f"not certifiable at this point: the eigenvalues of JJᵀ did not converge ({exc})"
        return make_certificate(objective, 0.0, tol=tol, method=method, assumptions=base, details=details)
    lam_min, lam_max = float(eig[0]), float(eig[-1])
    grad_sq = max(float(r @ (G @ r)), 0.0) / n**2  # ‖∇L‖² = rᵀGr/n²
    eps = torch.finfo(X.dtype).eps
    threshold = (N * eps if rcond is None else rcond) * max(lam_max, 0.0)
    details.update({"grad_norm": math.sqrt(grad_sq), "lambda_min": lam_min, "lambda_max": lam_max,
                    "singular_threshold": threshold})
    if not lam_min > threshold:
        reason = (f"not certifiable at this point: λ_min(JJᵀ) = {lam_min:.3e} ≤ {threshold:.3e} "
                  f"(= rcond · λ_max, λ_max = {lam_max:.3e}): JJᵀ is singular, so a stationary point here need not "
                  "be a global minimum and the gradient does not bound the loss")
        details.update({"pl_bound": None, "pl_radius": None, "pl_radius_half": None})
        return make_certificate(objective, 0.0, tol=tol, method=method, assumptions=base, details=details,
                                reason=reason if objective > tol * max(1.0, objective) else None)
    pl_bound = n * grad_sq / (2 * lam_min)
    rnorm = math.sqrt(float(r @ r))
    radius = rnorm / math.sqrt(lam_min)
    details.update({"pl_bound": pl_bound, "pl_radius": radius, "pl_radius_half": radius * math.sqrt(2.0)})
    assumptions = base + (
        f"PL at this point (holds exactly here): ‖∇L‖² ≥ (2/n)·λ_min(JJᵀ)·L with λ_min(JJᵀ) = {lam_min:.4g} > 0, "
        f"so L ≤ n‖∇L‖²/(2λ_min) = {pl_bound:.4g} and a stationary point here would be a global minimum",
        f"assumed, not checked (Liu, Zhu & Belkin 2022, Thm 6): if λ_min(JJᵀ) ≥ {lam_min:.4g} on the ball "
        f"‖θ − θ_now‖ ≤ R = ‖f − y‖/√λ_min = {radius:.4g} (‖θ_now‖ = {details['param_norm']:.4g}), gradient flow "
        f"from here reaches zero loss inside it (R = {radius * math.sqrt(2.0):.4g} if only λ_min/2 holds there)",
    )
    reason = None
    if objective > tol * max(1.0, objective):
        reason = (f"not at a global minimum: L = {loss:.4g} > tol = {tol:g}; the Gram is non-singular "
                  f"(λ_min = {lam_min:.3e}), so this is not a stationary point (‖∇L‖ = {math.sqrt(grad_sq):.3e}) "
                  "and training can still decrease the loss")
    return make_certificate(objective, 0.0, tol=tol, method=method, assumptions=assumptions, details=details,
                            reason=reason)


def _last_linear_call(model: nn.Module, X: Tensor) -> tuple[nn.Linear, Tensor, Tensor]:
    """(the last nn.Linear executed by model(X), its input (n, k), the model's output (n, c)); the model's output
    must be that Linear's output."""
    calls: list[tuple[nn.Linear, Tensor, Tensor]] = []
    hooks = [m.register_forward_hook(lambda mod, inp, outp: calls.append((mod, inp[0], outp)))
             for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        out = forward(model, X)
    finally:
        for h in hooks:
            h.remove()
    if not calls:
        raise ValueError(f"last_layer=True needs an nn.Linear in the model; {type(model).__name__} has none")
    last, feats, lin_out = calls[-1]
    if sum(m is last for m, _, _ in calls) > 1:
        raise ValueError("last_layer=True needs the last nn.Linear to be applied once; it is used "
                         f"{sum(m is last for m, _, _ in calls)} times")
    n = X.shape[0]
    if lin_out.numel() != out.numel() or not torch.equal(lin_out.reshape(n, -1), out):
        raise ValueError("last_layer=True needs the model's output to be the output of its last nn.Linear "
                         "(no activation or other operation after it)")
    if feats.ndim != 2 or feats.shape[0] != n:
        raise ValueError(f"last_layer=True needs the last nn.Linear to see one feature row per sample, got input "
                         f"shape {tuple(feats.shape)}")
    return last, feats.detach(), out


def _last_layer(model: nn.Module, X: Tensor, y: Tensor, *, tol: float, weight_decay: float) -> Certificate:
    layer, feats, out = _last_linear_call(model, X)
    Y = regression_targets(y, out).double()  # (n, c)
    n, c = Y.shape
    A = feats.double()  # (n, k)
    W = layer.weight.detach().double()  # (c, k)
    b = layer.bias.detach().double() if layer.bias is not None else None
    w_train = layer.weight.requires_grad
    b_train = b is not None and layer.bias.requires_grad
    if not (w_train or b_train):
        raise ValueError("last_layer=True needs the last nn.Linear to have a trainable weight or bias")
    cols, cur, fixed = [], [], torch.zeros_like(Y)
    if w_train:
        cols.append(A)
        cur.append(W.T)
    else:
        fixed += A @ W.T
    if b is not None:
        if b_train:
            cols.append(A.new_ones(n, 1))
            cur.append(b[None, :])
        else:
            fixed += b
    D = torch.cat(cols, dim=1)  # (n, p) design matrix of the trainable last-layer parameters
    T = Y - fixed  # (n, c)
    theta_now = torch.cat(cur, dim=0)  # (p, c)
    p = D.shape[1]

    def value(theta: Tensor) -> float:
        res = D @ theta - T
        return float(res.pow(2).sum()) / (2 * n) + 0.5 * weight_decay * float(theta.pow(2).sum())

    if weight_decay > 0:  # ridge as least squares on [D; √(nλ) I]
        Da = torch.cat([D, math.sqrt(n * weight_decay) * torch.eye(p, dtype=D.dtype)], dim=0)
        Ta = torch.cat([T, T.new_zeros(p, c)], dim=0)
    else:
        Da, Ta = D, T
    try:
        theta_opt = torch.linalg.lstsq(Da, Ta, driver="gelsd").solution  # (p, c)
    except RuntimeError as exc:
        raise ValueError(f"the last-layer least-squares problem could not be solved: {exc}") from None
    layer_ids = {id(layer.weight)} | ({id(layer.bias)} if layer.bias is not None else set())
    rest = [q for q in _trainable(model) if id(q) not in layer_ids]
    const = 0.5 * weight_decay * _sq_norm(rest)
    objective = value(theta_now) + const
    optimum = value(theta_opt) + const
    kkt = D.T @ (D @ theta_opt - T) / n + weight_decay * theta_opt  # gradient at the computed optimum
    details = {"objective_formula": OBJECTIVE + (" + (λ/2)‖θ‖²" if weight_decay else ""),
               "weight_decay": weight_decay, "n": n, "outputs_per_sample": c, "features": int(A.shape[1]),
               "last_layer_parameters": int(p * c), "design_rank": int(torch.linalg.matrix_rank(D)),
               "least_squares_value": optimum, "kkt_residual": float(kkt.norm()),
               "dtype": str(X.dtype).replace("torch.", "")}
    lower = min(optimum, objective)  # both are attained values; the lower is the better optimum
    assumptions = (
        "conditional on the features: every layer below the last nn.Linear is held fixed; the lower bound is the "
        "exact optimum over the last layer's trainable weight and bias, not a bound on the global optimum over all "
        "parameters",
        "the last-layer problem is convex (least squares"
        + (", ridge" if weight_decay else "") + "), solved exactly up to float64 rounding by an SVD "
        "(details: kkt_residual)",
    )
    reason = None
    if objective - lower > tol * max(1.0, abs(objective)):
        reason = (f"the last layer is not optimal on the current features: its loss {objective:.6g} is "
                  f"{objective - lower:.3e} above the least-squares optimum {lower:.6g}")
    return make_certificate(objective, lower, tol=tol, method="last_layer_least_squares",
                            assumptions=assumptions, details=details, reason=reason)
