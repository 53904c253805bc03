"""Coordinate check (TP V §D / microsoft/mup ``coord_check``): mean |activation| per layer over the first steps.

Under a correct μP every hidden layer's curve is flat in width at every step; under SP the curves blow up
with width after the first step, under NTP / mean-field they shrink. Conventions follow
``mup.coord_check.get_coord_data`` so the two can be compared: one fixed batch, step t = 1 is the forward
pass at initialisation, each step records the forward pass and then takes one SGD step, loss ``"mse"`` is
``F.mse_loss(f, one_hot(y))`` and ``"xent"`` is cross-entropy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from netoptima.claims import loglog_slope
from netoptima.conventions import check_choice, check_finite_loss, check_int, check_positive, progress
from netoptima.mup.data import standardize
from netoptima.mup.models import MLP, check_parametrization, param_groups
from netoptima.mup.train import sgd_step

__all__ = ["LOSSES", "coord_check", "coord_slopes"]

LOSSES: tuple[str, ...] = ("mse", "xent")


def _loss(f: Tensor, y: Tensor, loss: str) -> Tensor:
    if loss == "xent":
        return F.cross_entropy(f, y)
    return F.mse_loss(f, F.one_hot(y, f.shape[-1]).to(f.dtype))


def coord_check(parametrization: str, widths: Sequence[int], *, steps: int, depth: int = 3, lr: float = 0.1,
                data: tuple[Tensor, Tensor] | None = None, seeds: int = 1, base_width: int = 64,
                activation: str = "relu", loss: str = "mse", device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32, quiet: bool | None = True) -> list[dict[str, Any]]:
    """Per-layer mean |h^l| at SGD steps t = 1..steps for every width (TP V Fig. 5, mup's coord check).

    Arguments:
        parametrization: ``"sp"``, ``"ntp"``, ``"mup"`` or ``"mf"``.
        widths: hidden widths (each ≥ 1).
        steps: number of recorded steps (≥ 1); t = 1 is initialisation.
        depth: linear layers of the :class:`MLP` (≥ 2).
        lr: base learning rate η (per-layer rates from :func:`param_groups`).
        data: ``(X, y)`` with X of shape (B, d) and integer labels y (B,) in 0..k−1 (the net has k = max(y)+1
            outputs); default: 64 standardised MNIST training images.
        seeds: independent initialisations per width; seed s builds the net with
            ``torch.Generator().manual_seed(s)``.
        base_width: n0 of the parametrization.
        activation: ``"relu"``, ``"tanh"`` or ``"gelu"``.
        loss: ``"mse"`` (on one-hot targets) or ``"xent"``.
        device: torch device of the nets and the batch.
        dtype: ``torch.float32`` or ``torch.float64``.
        quiet: no progress bar when True.

    Returns:
        One record per (seed, width, layer, t): ``{"seed", "width", "layer", "t", "l1"}`` where ``layer`` is
        ``"h1"`` … ``"hL"`` for the hidden pre-activations and ``"out"`` for f, and ``l1`` = mean |·| over
        the batch and coordinates (mup's ``l1``).

    Raises:
        TrainingDiverged: the loss became non-finite or rose above 1e4 × max(first loss, 1) (lower ``lr``).
    """
    check_parametrization(parametrization)
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or not widths:
        raise ValueError(f"widths must be a non-empty sequence of integers >= 1, got {widths!r}")
    widths = [check_int(f"widths[{i}]", w, low=1) for i, w in enumerate(widths)]
    steps = check_int("steps", steps, low=1)
    seeds = check_int("seeds", seeds, low=1)
    lr = check_positive("lr", lr)
    check_choice("loss", loss, LOSSES)
    if data is None:
        from netoptima.data import mnist

        Xr, y = mnist(64, seed=0)
        data = (standardize(Xr), y)
    if not isinstance(data, tuple) or len(data) != 2 or not all(isinstance(t, Tensor) for t in data):
        raise ValueError(f"data must be a pair (X, y) of tensors, got {type(data).__name__}")
    X, y = data
    if X.ndim < 2 or X.shape[0] == 0 or not X.is_floating_point() or not bool(torch.isfinite(X).all()):
        raise ValueError(f"data's X must be finite floating inputs (B, ...) with B >= 1, got {tuple(X.shape)} "
                         f"{X.dtype}")
    if y.shape != (X.shape[0],) or y.is_floating_point() or y.dtype == torch.bool or int(y.min()) < 0:
        raise ValueError(f"data's y must be ({X.shape[0]},) integer class labels >= 0, got {tuple(y.shape)} {y.dtype}")
    X = X.reshape(X.shape[0], -1).to(device=device, dtype=dtype)  # (B, d)
    y = y.to(X.device)
    records: list[dict[str, Any]] = []
    jobs = [(s, n) for s in range(seeds) for n in widths]
    for s, n in progress(jobs, desc=f"coord check {parametrization}", quiet=quiet):
        model = MLP(X.shape[1], n, int(y.max()) + 1, depth=depth,
                    parametrization=parametrization, activation=activation, base_width=base_width,
                    generator=torch.Generator().manual_seed(s), dtype=dtype).to(X.device)
        groups = param_groups(model, lr)
        start: float | None = None
        for t in range(1, steps + 1):
            hs = model.preactivations(X)  # [h^1 (B, n), …, f (B, k)]
            names = [f"h{l + 1}" for l in range(len(hs) - 1)] + ["out"]
            records += [{"seed": s, "width": n, "layer": name, "t": t, "l1": float(h.detach().abs().mean())}
                        for name, h in zip(names, hs, strict=True)]
            value = _loss(hs[-1], y, loss)
            value_f = check_finite_loss(value.detach(), step=t - 1, lr=lr, start=start)
            start = value_f if start is None else start
            model.zero_grad(set_to_none=True)
            value.backward()
            sgd_step(groups)
    return records


def coord_slopes(records: Sequence[dict[str, Any]]) -> dict[tuple[str, int], float]:
    """Fitted log-log slope of ``l1`` against width for each (layer, t) (0 means flat in width)."""
    if not all(isinstance(r, dict) and {"layer", "t", "width", "l1"} <= r.keys() for r in records):
        raise ValueError("records must be coord_check's dicts with keys 'layer', 't', 'width' and 'l1'")
    keys = sorted({(r["layer"], r["t"]) for r in records})
    out = {}
    for layer, t in keys:
        rs = [r for r in records if r["layer"] == layer and r["t"] == t]
        out[(layer, t)] = loglog_slope([r["width"] for r in rs], [r["l1"] for r in rs])
    return out
