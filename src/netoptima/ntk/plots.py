"""Figures of the NTK claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from netoptima.report.plots import figure, save


def plot_gram_error(runs: list[dict[str, Any]], slope: float, path: Path) -> Path:
    """Relative Gram error vs width, log-log, every seed plus the seed mean and the m^-1/2 reference."""
    fig, ax = figure()
    w = np.array([r["width"] for r in runs], dtype=float)
    e = np.array([r["rel_error"] for r in runs])
    ax.loglog(w, e, "o", alpha=0.35, ms=4, label="seeds")
    widths = np.unique(w)
    mean = np.array([e[w == m].mean() for m in widths])
    ax.loglog(widths, mean, "-", lw=2, label=f"mean (fitted slope {slope:+.3f})")
    ax.loglog(widths, mean[0] * (widths / widths[0]) ** -0.5, "k--", lw=1, label="m^-1/2")
    ax.set_xlabel("width m")
    ax.set_ylabel("‖H(0) − H∞‖_F / ‖H∞‖_F")
    ax.set_title("empirical NTK at init → arccos kernel (MNIST)")
    ax.legend()
    return save(fig, path)
