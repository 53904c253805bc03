"""Certifier of CoGO networks (``netoptima.cogo.QuadraticNet``) on modular addition: the exact loss decomposition.

Mathematics (Tian 2024, "Composing Global Optimizers ..."; spec ``cogo.md`` §2). The network is
o(g1, g2) = W_c σ(W_a e_{g1} + W_b e_{g2}), σ(x) = x², trained on the projected squared loss

    ℓ = mean over the samples of ‖P⊥o(g1, g2) − P⊥e_{g1+g2 mod d}‖²,   P⊥ = I − 11ᵀ/d,

a sum of squares, so ℓ ≥ 0 = the lower bound. The bound is attained: the paper's constructions
(``netoptima.cogo.global_optimizer``, order 4 per frequency with one DC node) give an exact zero-loss network
with 2d − 1 hidden nodes, and zero nodes can be added, so for width q ≥ 2d − 1 the global optimum is L* = 0 and
the gap (= the loss) is exact. For smaller widths 0 is still a lower bound but no zero-loss network of that
width is known; the certificate says so.

On the full grid (all d² pairs, labels g1 + g2 mod d), the Fourier decomposition is exact:
ℓ = (1/d) Σ_{k≠0} ℓ_k, ℓ_k = Σ_{u,v} |r_{uvk} − δ_{u=k}δ_{v=k} (+ the r^a, r^b terms)|² — the squared distance
of the monomial potentials r_{k1k2k} of output frequency k from their targets (``loss_decomposition``). The
certificate reports, per frequency pair ±k, its share (ℓ_k + ℓ_{−k})/d of the loss and what the factorisation
(``netoptima.cogo.factorize``) says the frequency's hidden nodes are closest to: a known construction
(z_ν * z_syn, z_ν(i) * z_ξ, ...), "non-factorable", or "order n" for a number of nodes the factorisation does not
handle.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from netoptima.certification.core import Certificate, make_certificate
from netoptima.certification.inputs import check_finite_parameters, to_tensor

__all__ = ["certify_cogo", "register_cogo_model"]


def _pairs(model: Any, X: Any) -> Tensor:
    d = model.d
    t = X if isinstance(X, Tensor) else torch.as_tensor(X)
    if t.is_floating_point():
        t = to_tensor("X", t, torch.float64, torch.device("cpu"))
        if t.ndim == 2 and t.shape[1] == 2 * d:  # concatenated one-hots
            if not bool(((t == 0) | (t == 1)).all()) or not bool((t[:, :d].sum(1) == 1).all() and
                                                               (t[:, d:].sum(1) == 1).all()):
                raise ValueError(f"X of shape (N, {2 * d}) must hold two one-hot blocks of size d = {d}")
            return torch.stack([t[:, :d].argmax(1), t[:, d:].argmax(1)], dim=1)
        if not bool((t == t.round()).all()):
            raise ValueError("X must hold integer pairs (g1, g2) or concatenated one-hots")
        t = t.long()
    if t.ndim != 2 or t.shape[1] != 2 or t.shape[0] == 0:
        raise ValueError(f"X must be (N, 2) integer pairs or (N, {2 * d}) one-hots, got shape {tuple(t.shape)}")
    t = t.long()
    if int(t.min()) < 0 or int(t.max()) >= d:
        raise ValueError(f"X must hold residues in [0, {d - 1}] (d = {d}), got values in [{int(t.min())}, "
                         f"{int(t.max())}]")
    return t


def certify_cogo(model: nn.Module, X: Any, y: Any, *, loss: str | None = None, tol: float = 1e-6,
                 thres: float = 0.05) -> Certificate:
    """Certificate of a CoGO ``QuadraticNet`` under the projected squared loss (module docstring).

    Data: X (N, 2) integer pairs (g1, g2) or (N, 2d) concatenated one-hots; y (N,) labels in [0, d).
    Options: thres, the live-node threshold on |A[k, j]| of the factorisation (the paper code's 0.05).
    """
    from netoptima.cogo import factorize, fourier_weights, loss_decomposition

    if loss not in (None, "mse"):
        raise ValueError(f"loss {loss!r} is not supported by the certifier of QuadraticNet; it supports 'mse' (the "
                         "projected squared loss ‖P⊥o − P⊥e_y‖², the model's own objective)")
    check_finite_parameters(model)
    d, q = int(model.d), int(model.width)
    pairs = _pairs(model, X)
    n = pairs.shape[0]
    labels = to_tensor("y", y, torch.float64, torch.device("cpu"), rows=n).reshape(-1)
    if labels.numel() != n or not bool((labels == labels.round()).all()) or float(labels.min()) < 0 \
            or float(labels.max()) >= d:
        raise ValueError(f"y must hold one integer label in [0, {d - 1}] per pair")
    labels = labels.long()
    W = tuple(w.detach().double().cpu() for w in (model.W_a, model.W_b, model.W_c))
    with torch.no_grad():
        h = W[0].T[pairs[:, 0]] + W[1].T[pairs[:, 1]]  # (N, q)
        out = (h * h) @ W[2].T  # (N, d)
    o = out - out.mean(1, keepdim=True)
    target = torch.nn.functional.one_hot(labels, d).double() - 1.0 / d
    objective = float(((o - target) ** 2).sum(1).mean())
    zero_width = 2 * d - 1 if d % 2 == 1 and d >= 3 else None
    details: dict[str, Any] = {"objective_formula": "mean_n ‖P⊥o_n − P⊥e_{y_n}‖², P⊥ = I − 11ᵀ/d", "d": d,
                               "width": q, "n": n, "zero_loss_width": zero_width}
    assumptions = ["the projected squared loss is a sum of squares, so 0 is a lower bound on the global optimum"]
    if zero_width is not None and q >= zero_width:
        assumptions.append(f"0 is attained at width q = {q} ≥ 2d − 1 = {zero_width}: the order-4 construction "
                           "(global_optimizer(d, 4, compensation='dc'), padded with zero nodes) has zero loss, so "
                           "L* = 0 and the gap is exact")
    else:
        assumptions.append(f"no zero-loss network of width q = {q} is known (the constructions need q ≥ 2d − 1"
                           f"{f' = {zero_width}' if zero_width else ' and odd d'}): 0 is a lower bound that may "
                           "not be attained")
    grid = n == d * d and len(set(map(tuple, pairs.tolist()))) == d * d
    task = bool((labels == (pairs[:, 0] + pairs[:, 1]) % d).all())
    if grid and task and d % 2 == 1 and d >= 3:
        ell = loss_decomposition(*fourier_weights(W))  # (d,) ℓ_k, ℓ_0 = 0
        details["decomposition_residual"] = abs(float(ell.sum()) / d - objective)
        try:
            table = {row["k"]: row for row in factorize(W, thres=thres)}
        except ValueError:
            table = {}
        freqs = []
        for k in range(1, (d - 1) // 2 + 1):
            row = table.get(k, {})
            freqs.append({"k": k, "loss_share": float(ell[k] + ell[d - k]) / d,
                          "construction": row.get("construction"), "matched": row.get("matched"),
                          "order": row.get("order"), "factorization_error": row.get("err")})
        details["frequencies"] = freqs
        assumptions.append("on the full grid the loss splits exactly over the output frequencies ±k "
                           "(details['frequencies']: each frequency's share of the loss, i.e. its potentials' "
                           "squared distance from their targets, and the construction its nodes are closest to)")
    elif grid or task:
        details["frequencies"] = None
        details["note"] = ("the per-frequency decomposition needs all d² pairs labelled g1 + g2 mod d; the data "
                           "given is not that grid")
    reason = None
    if objective > tol * max(1.0, objective):
        worst = max(details.get("frequencies") or [{}], key=lambda f: f.get("loss_share", 0.0))
        where = (f"; the largest share is frequency ±{worst['k']} ({worst['loss_share']:.3g}, closest to "
                 f"{worst['construction']})" if worst.get("k") else "")
        reason = f"not at a global minimum: the loss {objective:.4g} is above tol = {tol:g}{where}"
    return make_certificate(objective, 0.0, tol=tol, method="cogo_fourier_decomposition",
                            assumptions=tuple(assumptions), details=details, reason=reason)


def _config(m: Any) -> dict[str, Any]:
    return {"d": int(m.d), "width": int(m.width)}


def _build(config: dict[str, Any]) -> Any:
    from netoptima.cogo import QuadraticNet

    return QuadraticNet(int(config["d"]), int(config["width"]), seed=0)


def register_cogo_model() -> None:
    """Make ``QuadraticNet`` saveable and loadable by ``netoptima.save`` / ``load``."""
    from netoptima.certification.io import register_model

    register_model("netoptima.cogo.model:QuadraticNet", _config, "netoptima.certification.cogo:_build")
