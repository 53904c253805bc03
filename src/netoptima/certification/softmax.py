"""Certifier of a single softmax layer trained with cross-entropy: a Fenchel dual lower bound.

Models: ``netoptima.explicit.SoftmaxClassifier`` (logits xW + b), ``netoptima.explicit.SoftmaxLM`` (logits
x_m U + b, x_m the K-hot bag or the concatenated one-hots of the context ids), and ``nn.Linear`` on fixed features
with ``loss="cross_entropy"`` (logits x Wᵀ + b; other losses go to the generic ``nn.Module`` certifier).

Mathematics. With features X (n, p), labels y, one-hot Y (n, C), logits Z = XW + 1bᵀ, the problem is

    P(W, b) = (1/n) Σ_i [lse(z_i) − z_{i,y_i}] + (λ/2)‖W‖²_F  (+ (λ/2)‖b‖² with ``bias_decay=True``),

convex in (W, b). The conjugate of z ↦ lse(z) − z_y is v ↦ Σ_k p_k log p_k for p = v + e_y in the simplex Δ_C
(+∞ otherwise), so Fenchel–Young gives, for every Q (n, C) with rows q_i ∈ Δ_C,
lse(z_i) − z_{i,y_i} ≥ H(q_i) + ⟨q_i − e_{y_i}, z_i⟩ (H the entropy). Summing and minimising over the
parameters gives the dual function, a lower bound on inf P for every such Q:

    D(Q) = (1/n) Σ_i H(q_i) − ‖G(Q)‖²/(2λ),   G(Q) = (1/n) X̃ᵀ(Q − Y) over the regularised columns X̃,

subject to (1/n) Aᵀ(Q − Y) = 0 over the unregularised columns A: the bias column 1 when b is not decayed,
and every column (X, 1) when λ = 0 — there the constraint XᵀQ = XᵀY is the stationarity condition XᵀŶ = XᵀY of
the explicit solutions (Williams & Zhao 2023). The dual point starts from the model's own prediction
softmax(Z); the logits are refined by Newton's method in the unregularised directions A (so that the constraint
holds up to rounding: for λ = 0 this solves the whole convex problem, and the bound is then the optimum itself),
projected exactly onto the constraint (Q − A A⁺(Q − Y), which keeps every row summing to 1), and, where the
projection leaves rounding-sized negative entries (probabilities that tend to 0 at the optimum: a partly
separable class), re-projected with those entries pinned at 0. At the optimum softmax(Z*) is feasible and D = P
exactly (zero duality gap); near it the gap is O(‖∇P‖²/λ). Q = Y is always feasible with D(Y) = 0, so the
bound is ≥ 0.

Unattained infimum (separable data, λ = 0): if some (W, b) classifies every sample strictly correctly, scaling
it drives P to 0, so inf P = 0 is approached but attained by no finite network; every dual point has D ≤ 0 and
the bound 0 is exact. The certifier then reports gap = the loss itself (certified once the loss is below tol,
i.e. the network is within tol of the infimum) and says so; separability is decided by a linear program
(HiGHS) when the problem is small enough (``details["separable"]``; ``None`` when not checked). Partly separable
data also has an unattained infimum, but a positive one; the dual bound stays valid there.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from netoptima.certification.core import Certificate, make_certificate
from netoptima.certification.inputs import check_finite_parameters, model_dtype, to_tensor
from netoptima.conventions import torch_threads

__all__ = ["certify_linear", "certify_softmax", "dual_bound", "register_softmax_models", "separable"]

OBJECTIVE = "(1/n) Σ_i −log softmax(z_i)_{y_i}"
MAX_FEATURES = 50_000_000  # entries of the dense float64 feature matrix (400 MB)
MAX_LP = 2_000_000  # nonzeros of the separability LP's constraint matrix above which it is not run


def _class_name(model: Any) -> str:
    return type(model).__name__


def _labels(y: Any, n: int, C: int) -> Tensor:
    t = to_tensor("y", y, torch.float64, torch.device("cpu"), rows=n)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 1:
        raise ValueError(f"y must hold one integer class label per sample for cross-entropy, got shape "
                         f"{tuple(t.shape)}")
    if not bool((t == t.round()).all()) or float(t.min()) < 0 or float(t.max()) >= C:
        raise ValueError(f"y must hold integer class labels in [0, {C - 1}] ({C} classes), got values in "
                         f"[{float(t.min()):g}, {float(t.max()):g}]")
    return t.long()


def _problem(model: nn.Module, X: Any) -> tuple[Tensor, nn.Parameter, bool, nn.Parameter | None, str]:
    """(features (n, p) float64, weight parameter, whether it is stored transposed (C, p), bias or None, kind)."""
    from netoptima.explicit import SoftmaxClassifier, SoftmaxLM

    if isinstance(model, SoftmaxLM):
        ids = X if isinstance(X, Tensor) else torch.as_tensor(np.asarray(X))
        if ids.is_floating_point():
            if not bool(torch.isfinite(ids).all()) or not bool((ids == ids.round()).all()):
                raise ValueError("X must hold integer context token ids for a SoftmaxLM")
            ids = ids.long()
        try:
            rows = model.rows(ids.cpu())  # (n, K) validated rows of U
        except ValueError as exc:
            raise ValueError(f"X does not fit the SoftmaxLM: {exc}") from None
        n = rows.shape[0]
        _check_size(n, model.dim_x)
        feats = torch.zeros(n, model.dim_x, dtype=torch.float64)
        feats.scatter_add_(1, rows, torch.ones(rows.shape, dtype=torch.float64))  # K-hot bag / stacked one-hots
        return feats, model.U, False, model.b, "SoftmaxLM"
    dtype, device = model_dtype(model)
    Xt = to_tensor("X", X, dtype, device).double().cpu()
    _check_size(Xt.shape[0], Xt[0].numel())
    if isinstance(model, SoftmaxClassifier):
        if Xt.ndim != 2 or Xt.shape[1] != model.n_features:
            raise ValueError(f"X must have shape (n, {model.n_features}) for this SoftmaxClassifier, got "
                             f"{tuple(Xt.shape)}")
        if float(Xt.min()) < 0:
            raise ValueError("X must hold non-negative features for a SoftmaxClassifier (the model refuses "
                             f"negative inputs), got a minimum of {float(Xt.min()):g}")
        return Xt, model.W, False, model.b, "SoftmaxClassifier"
    if type(model) is nn.Linear:
        if Xt.ndim != 2 or Xt.shape[1] != model.in_features:
            raise ValueError(f"X must have shape (n, {model.in_features}) for this nn.Linear, got {tuple(Xt.shape)}")
        return Xt, model.weight, True, model.bias, "nn.Linear"
    raise ValueError(f"the softmax certifier handles SoftmaxClassifier, SoftmaxLM and nn.Linear, not "
                     f"{_class_name(model)}")


def _check_size(n: int, p: int) -> None:
    if n * p > MAX_FEATURES:
        raise ValueError(f"the dense feature matrix would be n·p = {n} × {p} = {n * p:.3g} float64 entries, above "
                         f"{MAX_FEATURES:.0e} ({MAX_FEATURES * 8 / 1e9:.1f} GB); certify a subsample of the data")


def _entropy_rows(Q: Tensor) -> Tensor:
    return -torch.special.xlogy(Q, Q).sum(dim=1)  # (n,) with 0 log 0 = 0


def _ce(Z: Tensor, Y: Tensor) -> float:
    return float(-(torch.log_softmax(Z, dim=1) * Y).sum()) / Z.shape[0]


def _refine(Z: Tensor, A: Tensor, Y: Tensor, *, iters: int = 30) -> tuple[Tensor, int]:
    """Newton on the logits Z + A V (V (a, C), last column 0: softmax's gauge) until Aᵀ(softmax − Y) = 0 to
    rounding: a strictly positive dual point that meets the constraint (the stationarity in the unregularised
    directions). Returns (the refined logits, Newton steps)."""
    n, C = Y.shape
    a = A.shape[1]
    V = Z.new_zeros(a, C - 1)

    def logits(V: Tensor) -> Tensor:
        return Z + A @ torch.cat([V, V.new_zeros(a, 1)], dim=1)

    value, steps = _ce(logits(V), Y), 0
    for _ in range(iters):
        P = torch.softmax(logits(V), dim=1)[:, :-1]  # (n, C−1)
        g = (A.T @ (P - Y[:, :-1]) / n).reshape(-1)  # (a(C−1),)
        if float(g.abs().max()) < 1e-13:
            break
        D = torch.diag_embed(P) - P.unsqueeze(2) * P.unsqueeze(1)  # (n, C−1, C−1)
        H = torch.einsum("ibc,ij,il->jblc", D, A, A).reshape(a * (C - 1), a * (C - 1)) / n
        ridge = 1e-12 * max(float(H.diagonal().max()), 1e-300)
        try:
            step = -torch.linalg.solve(H + ridge * torch.eye(H.shape[0], dtype=H.dtype), g).reshape(a, C - 1)
        except RuntimeError:
            break
        t = 1.0
        while t > 1e-10:
            new = _ce(logits(V + t * step), Y)
            if new <= value + 1e-4 * t * float(g @ step.reshape(-1)) + 1e-15 * abs(value):
                break
            t *= 0.5
        else:
            break
        V, value, steps = V + t * step, new, steps + 1
    return logits(V), steps


def _masked_projection(Q: Tensor, A: Tensor, Y: Tensor, *, rounds: int = 10, max_size: float = 3e7,
                       ) -> tuple[Tensor, int] | None:
    """Project Q onto {Aᵀ(P − Y) = 0, rows sum to 1} with the entries where the projection went negative pinned
    at 0 (they are the exact zeros of a dual optimum whose primal infimum is not attained: a partly separable
    class). Returns (P ≥ 0, entries pinned) or None (still negative after ``rounds``, or too large)."""
    n, C = Q.shape
    a = A.shape[1]
    if (a * C + n) * n * C > max_size:
        return None
    B = torch.cat([torch.kron(A.T.contiguous(), torch.eye(C, dtype=A.dtype)),  # Σ_i A_ij P_ik (row j·C + k)
                   torch.kron(torch.eye(n, dtype=A.dtype), torch.ones(1, C, dtype=A.dtype))])  # row sums
    c = torch.cat([(A.T @ Y).reshape(-1), torch.ones(n, dtype=A.dtype)])
    q = Q.reshape(-1)
    keep = q > 1e-30  # entries below are zeros of the dual optimum up to underflow
    for _ in range(rounds):
        cols = torch.nonzero(keep).flatten()
        Bs = B[:, cols]
        p = torch.zeros_like(q)
        p[cols] = q[cols] - torch.linalg.lstsq(Bs, Bs @ q[cols] - c, driver="gelsd").solution
        if float(p.min()) >= 0:
            return p.reshape(n, C), int((~keep).sum())
        keep &= p > 0
    return None


def dual_bound(X: Tensor, Y: Tensor, Z: Tensor, *, weight_decay: float, bias: bool, bias_decay: bool,
               max_newton: int = 3000) -> tuple[float, dict[str, Any]]:
    """The best feasible dual point near softmax(``Z``) and its value D (module docstring); all float64.

    Arguments:
        X: (n, p) features; Y: (n, C) one-hot labels; Z: (n, C) the model's logits.
        weight_decay: λ ≥ 0; bias: the model has a trainable bias; bias_decay: the bias is in the L2 term.
        max_newton: refine the logits by Newton in the unregularised directions when there are at most this
            many such variables (then the dual point is strictly positive); otherwise only project.

    Returns:
        (D, details): D = −inf when no feasible point was found near softmax(Z) (the caller falls back to 0).
    """
    n, C = Y.shape
    ones = X.new_ones(n, 1)
    reg_cols = [X] if weight_decay > 0 else []
    con_cols = [] if weight_decay > 0 else [X]
    if bias:
        (reg_cols if (bias_decay and weight_decay > 0) else con_cols).append(ones)
    info: dict[str, Any] = {}
    Q = torch.softmax(Z, dim=1)
    P1 = Q
    if con_cols:
        A = torch.cat(con_cols, dim=1)  # (n, a)
        k = A.shape[1] * (C - 1)
        if k <= max_newton and n * k * k <= 5e8:  # (k, k) Hessians, n·k² flops each
            Zr, info["newton_steps"] = _refine(Z, A, Y)
            Q = torch.softmax(Zr, dim=1)
        absent = Y.sum(dim=0) == 0  # (C,) classes without a sample
        if any(c is ones for c in con_cols) and bool(absent.any()):
            # the bias constraint Σ_i q_ik = 0 forces q_ik = 0 for an absent class (its optimal bias is −∞)
            Q = Q.clone()
            Q[:, absent] = 0.0
            Q = Q / Q.sum(dim=1, keepdim=True)
            info["absent_classes"] = [int(k) for k in torch.nonzero(absent).flatten()]
        pinv = torch.linalg.pinv(A)  # (a, n)
        P1 = Q - A @ (pinv @ (Q - Y))  # rows still sum to 1 (the correction's rows sum to 0)
        if float(P1.min()) < 0:
            info["negative_after_projection"] = float(P1.min())
            masked = _masked_projection(Q, A, Y)
            if masked is not None:
                P1, info["pinned_to_zero"] = masked
        if float(P1.min()) < 0 and len(con_cols) == 1 and con_cols[0] is ones:  # only the bias is constrained
            Q0 = Y.mean(dim=0, keepdim=True).expand_as(Y)  # (n, C) feasible, positive on the present classes
            neg = P1 < 0
            t = float(((-P1[neg]) / (Q0[neg] - P1[neg])).max()) if bool(neg.any()) else 0.0
            P1 = (1 - t) * P1 + t * Q0
            P1 = P1.clamp_min(0.0)  # only entries that are 0 up to rounding
            info["mixing"] = t
        info["constraint_residual"] = float((A.T @ (P1 - Y)).abs().max()) / n
    if float(P1.min()) < -1e-13:
        info["dual_point"] = "infeasible (negative entries): no dual bound near the model's prediction"
        return -math.inf, info
    P1 = P1.clamp_min(0.0)
    value = float(_entropy_rows(P1).sum()) / n
    if reg_cols:
        R = torch.cat(reg_cols, dim=1)
        G = R.T @ (P1 - Y) / n  # (r, C)
        value -= float(G.pow(2).sum()) / (2 * weight_decay)
        info["dual_gradient_norm"] = float(G.norm())
    return value, info


def separable(X: Tensor, y: Tensor, C: int, *, bias: bool) -> bool | None:
    """Whether some (W, b) classifies every sample strictly correctly (LP feasibility, HiGHS); None if too big."""
    import scipy.optimize
    import scipy.sparse

    Xa = torch.cat([X, X.new_ones(X.shape[0], 1)], dim=1) if bias else X
    Xn = Xa.numpy()
    n, p = Xn.shape
    if n * (C - 1) * 2 * p > MAX_LP:
        return None
    yi = y.numpy()
    rows, cols, vals = [], [], []
    r = 0
    nz = [np.flatnonzero(Xn[i]) for i in range(n)]
    for i in range(n):
        for k in range(C):
            if k == yi[i]:
                continue
            j = nz[i]
            # −x_i·(w_{y_i} − w_k) ≤ −1 ; variables ordered class-major (k·p + j)
            rows += [r] * (2 * j.size)
            cols += list(yi[i] * p + j) + list(k * p + j)
            vals += list(-Xn[i, j]) + list(Xn[i, j])
            r += 1
    A = scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(r, C * p))
    res = scipy.optimize.linprog(np.zeros(C * p), A_ub=A, b_ub=-np.ones(r), bounds=(None, None), method="highs")
    if res.status == 0:
        return True
    if res.status == 2:
        return False
    return None


def certify_softmax(model: nn.Module, X: Any, y: Any, *, loss: str | None = None, tol: float = 1e-6,
                    weight_decay: float = 0.0, bias_decay: bool = False, check_separable: bool = True,
                    ) -> Certificate:
    """Certificate of a single softmax layer under mean cross-entropy (+ (λ/2)‖W‖²): the Fenchel dual bound.

    Options:
        weight_decay: λ ≥ 0 on the weight (W, U, or the nn.Linear weight).
        bias_decay: the bias is in the L2 term too (what ``SGD(weight_decay=λ)`` does to every parameter).
        check_separable: with λ = 0, decide by a linear program whether the data is separable (the
            infimum 0 is then not attained; see the module docstring).

    Data: X (n, d) features (SoftmaxClassifier: non-negative; SoftmaxLM: (n, K) context ids), y (n,) labels.
    """
    if loss not in (None, "cross_entropy"):
        raise ValueError(f"loss {loss!r} is not supported by the certifier of {_class_name(model)}; it supports "
                         "'cross_entropy' (mean cross-entropy, the model's own objective)")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not weight_decay >= 0 \
            or not math.isfinite(weight_decay):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    weight_decay = float(weight_decay)
    check_finite_parameters(model)
    feats, weight, transposed, bias_p, kind = _problem(model, X)
    if not weight.requires_grad:
        raise ValueError(f"the weight of the {kind} is frozen (requires_grad=False); nothing to certify")
    W = weight.detach().double().cpu()
    W = W.T if transposed else W  # (p, C)
    C = W.shape[1]
    n = feats.shape[0]
    yl = _labels(y, n, C)
    Y = torch.nn.functional.one_hot(yl, C).double()  # (n, C)
    b = bias_p.detach().double().cpu() if bias_p is not None else torch.zeros(C, dtype=torch.float64)
    has_bias = bias_p is not None and bias_p.requires_grad
    Z = feats @ W + b  # (n, C)
    logp = torch.log_softmax(Z, dim=1)
    ce = float(-(logp * Y).sum()) / n
    penalty = 0.5 * weight_decay * (float(W.pow(2).sum()) + (float(b.pow(2).sum()) if bias_decay and has_bias
                                                                else 0.0))
    objective = ce + penalty
    with torch_threads(1 if n * feats.shape[1] * C < 10**7 else None):  # small problems: one thread is fastest
        dual, info = dual_bound(feats, Y, Z, weight_decay=weight_decay, bias=has_bias, bias_decay=bias_decay)
    lower = max(dual, 0.0)
    grad_W = feats.T @ (logp.exp() - Y) / n + weight_decay * W
    grad_sq = float(grad_W.pow(2).sum())
    if has_bias:
        grad_sq += float(((logp.exp() - Y).mean(dim=0) + (weight_decay * b if bias_decay else 0.0)).pow(2).sum())
    sep = separable(feats, yl, C, bias=has_bias) if (weight_decay == 0 and check_separable) else None
    formula = OBJECTIVE + (" + (λ/2)‖W‖²" + (" + (λ/2)‖b‖²" if bias_decay and has_bias else "")
                           if weight_decay else "")
    details = {"objective_formula": formula, "cross_entropy": ce, "weight_decay": weight_decay,
               "bias": has_bias, "bias_decay": bool(bias_decay), "n": n, "classes": C, "features": int(W.shape[0]),
               "model": kind, "dual_value": dual if math.isfinite(dual) else None, "grad_norm": math.sqrt(grad_sq),
               "separable": sep, **info}
    assumptions = [
        "the problem is convex in the layer's parameters (cross-entropy of an affine map, plus a convex L2 term); "
        "the lower bound is the Fenchel dual D(Q) at a feasible dual point Q, so it bounds the global infimum "
        "over all parameters of this layer (features held fixed)" + (
            "; the dual constraint Aᵀ(Q − Y) = 0 holds up to float64 rounding (details: constraint_residual)"
            if "constraint_residual" in info else ""),
    ]
    if info.get("pinned_to_zero") and not sep:
        assumptions.append(f"{info['pinned_to_zero']} predicted probabilities are 0 at the dual point: those "
                           "samples are separable from some class, so the infimum is approached only as some logits "
                           "diverge (not attained by a finite network), though it stays positive")
    if sep:
        lower = 0.0  # the infimum is exactly 0; a positive dual value here is rounding of the constraint
    reason = None
    if info.get("absent_classes"):
        assumptions.append(f"classes {info['absent_classes']} have no sample: their optimal bias is −∞, so the "
                           "infimum is approached only as those biases decrease without bound (not attained)")
    if sep:
        assumptions.append("the data is linearly separable (LP): the infimum 0 is not attained by any finite "
                           "network — the loss only tends to 0 as ‖W‖ → ∞; the bound 0 is exact and the gap "
                           "is the loss itself")
        if objective > tol * max(1.0, objective):
            reason = (f"separable data: the infimum 0 is approached only as ‖W‖ → ∞ (no finite optimum); the "
                      f"loss {objective:.4g} is above tol = {tol:g}, so training (or a larger scale of W) can "
                      "still decrease it")
    elif objective - lower > tol * max(1.0, abs(objective)):
        why = ("the model's prediction gives no feasible dual point (far from stationary, or nearly separable "
               "data); the lower bound falls back to 0" if not math.isfinite(dual) else
               f"the layer is not at the optimum: ‖∇P‖ = {math.sqrt(grad_sq):.3e}; the duality gap "
               f"{objective - lower:.3e} bounds how far above the optimum it is")
        reason = "not certified: " + why
    return make_certificate(objective, lower, tol=tol, method="softmax_fenchel_dual",
                            assumptions=tuple(assumptions), details=details, reason=reason)


def certify_linear(model: nn.Module, X: Any, y: Any, *, loss: str | None = None, tol: float = 1e-6,
                   **options: Any) -> Certificate:
    """``nn.Linear``: cross-entropy goes to :func:`certify_softmax` (a softmax head on fixed features), every
    other loss to the generic ``nn.Module`` certifier (``netoptima.certification.squared.certify_module``)."""
    from netoptima.certification.squared import certify_module

    fn = certify_softmax if loss == "cross_entropy" else certify_module
    params = inspect.signature(fn).parameters
    allowed = [k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and k not in ("loss", "tol")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for the "
                         f"certifier of nn.Linear with loss={loss!r}; it accepts {', '.join(map(repr, allowed))}")
    return fn(model, X, y, loss=loss, tol=tol, **options)


def _classifier_config(m: Any) -> dict[str, Any]:
    return {"n_features": int(m.n_features), "n_classes": int(m.n_classes), "bias": m.b is not None}


def _lm_config(m: Any) -> dict[str, Any]:
    return {"vocab": int(m.vocab), "context": int(m.context), "aggregate": m.aggregate, "bias": m.b is not None}


def register_softmax_models() -> None:
    """Make ``SoftmaxClassifier`` and ``SoftmaxLM`` loadable and saveable by ``netoptima.load`` / ``save``."""
    from netoptima.certification.io import register_model

    register_model("netoptima.explicit.models:SoftmaxClassifier", _classifier_config,
                   "netoptima.explicit.models:SoftmaxClassifier")
    register_model("netoptima.explicit.models:SoftmaxLM", _lm_config, "netoptima.explicit.models:SoftmaxLM")
