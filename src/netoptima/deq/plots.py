"""Figures of the deq.* claims, drawn from the claims' data: ``plot_<claim>(data, settings, out_dir)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from netoptima.report.plots import figure, save


def plot_rate(runs: list[dict[str, Any]], path: Path, title: str, floor: float) -> Path:
    """log(L − L*) against the step for every run, with the theorem's bound (dashed) for square-loss runs."""
    fig, ax = figure()
    for r in runs:
        label = f"{r['loss']} m={r['width']} seed {r['seed']}"
        line, = ax.semilogy(r["curve_t"], np.maximum(r["curve_gap"], 1e-16), lw=1.5, label=label)
        if "curve_bound" in r:
            ax.semilogy(r["curve_t"], r["curve_bound"], "--", color=line.get_color(), lw=1)
    ax.axhline(floor, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("GD step t (time ηt)")
    ax.set_ylabel("L − L*")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return save(fig, path)


def plot_trust_region(r: dict[str, Any], path: Path) -> Path:
    """Left: spectra of P_t at four times vs λ_min(UᵀU). Right: L − L* of the DEQ and the shallow methods."""
    fig, (ax1, ax2) = figure(ncols=2, figsize=(11.0, 4.2))
    for t, spec, lu in zip(r["snap_t"], r["snap_spectra"], r["snap_lambda_U"], strict=True):
        line, = ax1.semilogy(range(1, len(spec) + 1), spec, "o-", ms=3, label=f"P_t, t={t}")
        ax1.axhline(lu, color=line.get_color(), ls="--", lw=0.8)
    ax1.set_xlabel("eigenvalue index")
    ax1.set_ylabel("eigenvalues of P_t (dashed: λ_min(UᵀU))")
    ax1.set_title("function-space preconditioner P_t = (H_t + μ_tI)⁻¹")
    ax1.legend(fontsize=7)
    t = r["curve_t"]
    for key, label, ls in (("gap_deq", "DEQ (GD on A, B)", "-"), ("gap_tr", "shallow TR step, implied H_t", "--"),
                           ("gap_gd_best", f"shallow GD, best lr ({r['best_gd_factor']}η)", "-")):
        ax2.semilogy(t, np.maximum(r[key], 1e-16), label=label, ls=ls)
    ax2.set_xlabel("step")
    ax2.set_ylabel("L − L*")
    ax2.set_title("function-space trajectories")
    ax2.legend(fontsize=7)
    return save(fig, path)


def plot_implicit_bias(runs: dict[str, dict[str, Any]], path: Path, title: str) -> Path:
    """Training cross-entropy against the GD step for the DEQ, the linear model and the DLN."""
    fig, ax = figure()
    for name, r in runs.items():
        t = np.arange(len(r["train_curve"])) * r["curve_every"]
        ax.semilogy(t, r["train_curve"], label=f"{name}: test acc {100 * r['test_acc']:.1f}%")
    ax.set_xlabel("full-batch GD step")
    ax.set_ylabel("training cross-entropy")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)


def plot_linear_rate(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    return [plot_rate(data["runs"], out / "linear_rate.png", "DEQ linear: L − L* (solid), the bound (dashed)",
                      s.gap_floor)] if data["runs"] else []


def plot_any_width(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    return [plot_rate(data["runs"], out / "any_width.png", f"widths {list(s.widths)} < m_y = {s.k}: L − L*",
                      s.gap_floor)] if data["runs"] else []


def plot_trust(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    return [plot_trust_region(data["run"], out / "trust_region.png")] if data["run"] else []


def plot_bias(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    runs = data["runs"]
    if "deq" not in runs:
        return []
    title = f"MNIST ({runs['deq']['n_train']} train, m={runs['deq']['width']}): η={s.lr}, {s.steps} steps"
    return [plot_implicit_bias(runs, out / "implicit_bias.png", title)]
