"""Learning-rate transfer measurements: the best rate on a grid, and the cost of using another width's best rate."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["best_log2_lr", "lr_regret", "mean_loss_curves", "seed_shifts", "unrefined"]


def _check_grid(log2_lrs: Any, losses: Any) -> tuple[np.ndarray, list[float | None]]:
    """A non-empty increasing finite grid and one loss (> 0, or None / non-finite for diverged) per grid point."""
    try:
        x = np.asarray(log2_lrs, dtype=float)
        values = [None if v is None else float(v) for v in losses]
    except (TypeError, ValueError):
        raise ValueError("log2_lrs must be a sequence of numbers and losses of numbers or None") from None
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all() or (np.diff(x) <= 0).any():
        raise ValueError(f"log2_lrs must be a non-empty increasing 1-D grid of finite numbers, got {x!r}")
    if len(values) != x.size:
        raise ValueError(f"log2_lrs and losses must have the same length, got {x.size} and {len(values)}")
    bad = [v for v in values if v is not None and v <= 0]
    if bad:
        raise ValueError(f"losses must be > 0 (compared on a log scale) or None for a diverged rate, got {bad[0]!r}")
    return x, values


def best_log2_lr(log2_lrs: Sequence[float], losses: Sequence[float | None]) -> float:
    """log2 of the best learning rate: the grid argmin refined by a parabola through its neighbours in log loss.

    Arguments:
        log2_lrs: the grid, increasing.
        losses: final loss at each grid rate; ``None`` (or non-finite) for a rate that diverged.

    Returns:
        log2 η*, NaN when every rate diverged. Next to a diverged rate or at the grid's end the grid value is
        returned unrefined (the optimum is then only known to within half a grid step).
    """
    x, values = _check_grid(log2_lrs, losses)
    y = np.array([math.inf if v is None or not math.isfinite(v) else math.log(v) for v in values])
    if not np.isfinite(y).any():
        return math.nan
    i = int(np.argmin(y))
    if 0 < i < len(x) - 1 and np.isfinite(y[i - 1]) and np.isfinite(y[i + 1]):
        a, b, _ = np.polyfit(x[i - 1:i + 2], y[i - 1:i + 2], 2)
        if a > 0:
            return float(np.clip(-b / (2 * a), x[i - 1], x[i + 1]))
    return float(x[i])


def lr_regret(log2_lrs: Sequence[float], losses: Sequence[float | None], log2_lr: float) -> float:
    """Loss at the grid rate nearest ``log2_lr`` over the best loss on the grid (inf if that rate diverged)."""
    x, losses = _check_grid(log2_lrs, losses)
    finite = [v for v in losses if v is not None and math.isfinite(v)]
    if not finite or math.isnan(log2_lr):
        return math.inf
    at = losses[int(np.argmin(np.abs(x - log2_lr)))]
    return math.inf if at is None or not math.isfinite(at) else at / min(finite)


def mean_loss_curves(runs: Sequence[Mapping[str, Any]], widths: Sequence[int], log2_lrs: Sequence[float],
                     seeds: int) -> dict[str, dict[int, list[float | None]]]:
    """Mean final loss over seeds per (parametrization, width, grid rate) from ``lr_run`` records.

    A rate is ``None`` when any of its ``seeds`` runs diverged or is missing (a diverging seed rules the rate out).
    """
    out: dict[str, dict[int, list[float | None]]] = {}
    for p in sorted({r["parametrization"] for r in runs}):
        out[p] = {}
        for n in widths:
            row: list[float | None] = []
            for k in log2_lrs:
                vals = [r["loss"] for r in runs if (r["parametrization"], r["width"], r["log2_lr"]) == (p, n, k)]
                ok = len(vals) == seeds and all(v is not None for v in vals)
                row.append(sum(vals) / len(vals) if ok else None)
            out[p][n] = row
    return out


def unrefined(curve: Sequence[float | None], log2_lrs: Sequence[float], best: float) -> bool:
    """Whether :func:`best_log2_lr` returned a bare grid value: at the grid's end or next to a diverged rate."""
    if math.isnan(best):
        return False
    i = min(range(len(log2_lrs)), key=lambda j: abs(log2_lrs[j] - best))
    return log2_lrs[i] == best and (i in (0, len(log2_lrs) - 1) or curve[i - 1] is None or curve[i + 1] is None)


def seed_shifts(runs: Sequence[Mapping[str, Any]], widths: Sequence[int],
                log2_lrs: Sequence[float]) -> dict[str, list[float]]:
    """η*(widths[-1]) − η*(widths[0]) in octaves per parametrization and seed: the scatter behind a mean shift."""
    out: dict[str, list[float]] = {}
    for k in sorted({r["seed"] for r in runs}):
        for p, cs in mean_loss_curves([r for r in runs if r["seed"] == k], widths, log2_lrs, 1).items():
            out.setdefault(p, []).append(best_log2_lr(log2_lrs, cs[widths[-1]]) - best_log2_lr(log2_lrs, cs[widths[0]]))
    return out
