"""Figures of the CoGO claims, drawn from the claims' data (the paper's Figs. 3, 4 and 5)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from netoptima.cogo.experiments import nets_of
from netoptima.report.plots import figure, save


def plot_dynamics(run: dict[str, Any], path: Path) -> Path:
    """Fig. 3: summed diagonal r_kkk → d − 1 and summed off-diagonal r_{k1k2k} → 0 (first seed of a run)."""
    h = run["history"]
    fig, ax = figure()
    ax.plot(h["epochs"], h["r_diag"][0], label="Σ_k Re r_kkk (diag)")
    ax.plot(h["epochs"], h["r_offdiag"][0], label="Σ Re r_{k1k2k}, off-diag")
    ax.axhline(h["target_diag"], color="k", ls="--", lw=0.7)
    ax.axhline(0, color="k", ls="--", lw=0.7)
    ax.set_xscale("symlog", linthresh=100)
    ax.set_xlabel("epoch")
    ax.set_ylabel("summed potentials (paper units)")
    ax.set_title(f"dynamics of r (d={run['d']}, q={run['width']}, wd={run['weight_decay']:g}, seed {run['seeds'][0]})")
    ax.legend()
    return save(fig, path)


def plot_angles(nets: list[dict[str, Any]], path: Path) -> Path:
    """Fig. 5: angles of ξ in z_{ν=i} * z_ξ and of ν in z_ν * z_syn, with the paper's reference lines."""
    fig, axes = figure(ncols=2, figsize=(10, 3.6))
    xi = [r["xi_angle"] for n in nets for r in n["table"] if r["construction"] == "z_nu(i)*z_xi"]
    nu = [r["nu_angle"] for n in nets for r in n["table"] if r["construction"] in ("z_nu*z_syn", "z_nu(i)*z_syn")]
    for ax, vals, refs, title in ((axes[0], xi, (1, 3), "ξ in z_{ν=i} * z_ξ"),
                                  (axes[1], nu, None, "ν in z_ν * z_syn")):
        ax.hist(vals, bins=36, range=(-math.pi, math.pi))
        marks = [s * m * math.pi / 4 for m in refs for s in (1, -1)] if refs else \
            [s * m * math.pi / 6 for m in (2, 3, 4) for s in (1, -1)]
        for x in marks:
            ax.axvline(x, color="r", ls="--", lw=0.7)
        ax.set_xlabel("angle (rad)")
        ax.set_title(f"{title} ({len(vals)} blocks)")
    axes[0].set_ylabel("count")
    return save(fig, path)


def _orders_figure(nets: list[dict[str, Any]], path: Path) -> Path:
    """Fig. 4: histogram of per-frequency orders for each (d, wd), reference lines at 4 and 6."""
    cells = sorted({(n["d"], n["weight_decay"]) for n in nets})
    ds = sorted({c[0] for c in cells})
    wds = sorted({c[1] for c in cells})
    fig, axes = figure(nrows=len(ds), ncols=len(wds), figsize=(2.6 * len(wds), 2.2 * len(ds)), squeeze=False)
    for (d, wd) in cells:
        ax = axes[ds.index(d)][wds.index(wd)]
        orders = [o for n in nets if (n["d"], n["weight_decay"]) == (d, wd) for o in n["orders"]]
        ax.hist(orders, bins=np.arange(-0.5, max(12, max(orders, default=0) + 1) + 0.5))
        for x in (4, 6):
            ax.axvline(x, color="r", ls="--", lw=0.7)
        ax.set_title(f"d={d}, wd={wd:g}", fontsize=9)
        ax.set_xlabel("order", fontsize=8)
    return save(fig, path)


def _weight_decay_figure(nets: list[dict[str, Any]], mem: dict[str, Any], path: Path) -> Path:
    """Mean per-frequency order against weight decay, and the memorisation runs' active nodes and loss."""
    wds = sorted({n["weight_decay"] for n in nets})
    mean_order = [float(np.mean([np.mean(n["orders"]) for n in nets if n["weight_decay"] == w])) for w in wds]
    fig, axes = figure(ncols=2, figsize=(10, 3.8))
    axes[0].semilogx(wds, mean_order, "o-")
    axes[0].set_xlabel("weight decay")
    axes[0].set_ylabel("mean per-frequency order")
    axes[0].set_title(f"d={sorted({n['d'] for n in nets})}")
    h, mnets = mem["history"], mem["nets"]
    for i, n in enumerate(mnets):
        axes[1].plot(h["epochs"], h["active"][i], label=f"active nodes (seed {n['seed']})")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("nodes with a weight > 0.01")
    ax2 = axes[1].twinx()
    for i in range(len(mnets)):
        ax2.semilogy(h["epochs"], h["train_loss"][i], "k:", lw=0.8)
    ax2.set_ylabel("train loss (dotted)")
    axes[1].set_title(f"memorisation + noise, d={mem['d']}, wd={mem['weight_decay']:g}")
    axes[1].legend(fontsize=8)
    return save(fig, path)


def _decoupling_figure(runs: list[dict[str, Any]], slope: float, path: Path) -> Path:
    """‖offdiag(J Jᵀ)‖/‖diag(J Jᵀ)‖ against q, log-log, with the q^-1/2 reference."""
    fig, ax = figure()
    w = np.array([r["width"] for r in runs], dtype=float)
    y = np.array([r["ratio"] for r in runs])
    ax.loglog(w, y, "o", alpha=0.5, label="seeds")
    ws = np.unique(w)
    mean = np.array([y[w == x].mean() for x in ws])
    ax.loglog(ws, mean, "-", label=f"mean (slope {slope:+.3f})")
    ax.loglog(ws, mean[0] * (ws / ws[0]) ** -0.5, "k--", lw=1, label="q^-1/2")
    ax.set_xlabel("hidden nodes q")
    ax.set_ylabel("‖offdiag(J Jᵀ)‖ / ‖diag(J Jᵀ)‖")
    ax.set_title(f"potentials r_(k1 k2 k) at init, d={runs[0]['d']}")
    ax.legend()
    return save(fig, path)


# ---------------------------------------------------------------------------------------------- per claim
def plot_match_rate(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    nets = [n for r in data["runs"] for n in r.get("checkpoints", {}).get(str(s.epochs), [])]
    return [plot_angles(nets, out / "angles.png")] if nets else []


def plot_orders(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    runs = data["runs"]
    return [_orders_figure(nets_of(runs), out / "orders.png"), plot_dynamics(runs[0], out / "dynamics_r.png")]


def plot_weight_decay(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    return [_weight_decay_figure(nets_of(data["runs"]), data["memorization"][0], out / "weight_decay.png")]


def plot_decoupling(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    from netoptima.cogo.analysis import ols_slope

    runs = data["runs"]
    slope = ols_slope(np.log([r["width"] for r in runs]), np.log([r["ratio"] for r in runs]))[0]
    return [_decoupling_figure(runs, slope, out / "decoupling.png")] if len(runs) > 1 else []
