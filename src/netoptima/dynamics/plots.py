"""One function per figure of the dynamics claims (matplotlib Agg, PNG via ``netoptima.report.plots``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from netoptima.dynamics.ode import ode_time
from netoptima.report.plots import figure, save

__all__ = [
    "plot_epoch_curves", "plot_floor_vs_lr", "plot_gap_vs_width", "plot_ggn", "plot_ggn_residuals", "plot_hb",
    "plot_loss_curves", "plot_nag", "plot_nag_slopes", "plot_notebook_curve", "plot_notebook_gd", "plot_ode_limit",
    "plot_regression", "plot_regressions", "plot_width", "plot_width_curves",
]

TITLES = {"gd": "GD", "hb": "heavy ball", "nag": "Nesterov"}


def plot_loss_curves(runs: dict[str, list[dict[str, Any]]], path: Path, *, loglog: bool) -> Path:
    """Measured loss vs ODE time for every width, with the limiting-ODE prediction (H∞) drawn over them.

    Arguments:
        runs: method -> theory runs (each with width, lr, loss, ode_loss).
        loglog: log-log axes (NAG's polynomial decay is a straight line) instead of semi-log.
    """
    fig, axes = figure(ncols=len(runs), figsize=(5.0 * len(runs), 4.2), squeeze=False)
    for ax, (method, rs) in zip(axes[0], runs.items(), strict=True):
        rs = sorted(rs, key=lambda r: r["width"])
        for r in rs:
            t = ode_time(np.arange(len(r["loss"])), r["lr"], method)
            ax.plot(t[1:] if loglog else t, (r["loss"][1:] if loglog else r["loss"]), lw=1.2, alpha=0.8,
                    label=f"m = {r['width']}")
        big = rs[-1]
        t = ode_time(np.arange(len(big["ode_loss"])), big["lr"], method)
        ax.plot(t[1:] if loglog else t, big["ode_loss"][1:] if loglog else big["ode_loss"], "k--", lw=1.5,
                label="limiting ODE (H∞)")
        ax.set_yscale("log")
        if loglog:
            ax.set_xscale("log")
        ax.set_xlabel("ODE time t (kη for GD, k√η otherwise)")
        ax.set_ylabel("loss ½‖u − y‖²")
        ax.set_title(f"{TITLES[method]}: measured vs ODE")
        ax.legend(fontsize=8)
    return save(fig, path)


def plot_gap_vs_width(rows: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Relative gap to the ODE and to the linearised recursion vs width (log-log), with an m^-1/2 guide."""
    fig, axes = figure(ncols=len(rows), figsize=(5.0 * len(rows), 4.2), squeeze=False)
    for ax, (method, rs) in zip(axes[0], rows.items(), strict=True):
        w = np.array([r["width"] for r in rs], dtype=float)
        ax.loglog(w, [r["gap_ode"] for r in rs], "o", label="to the ODE (H∞)")
        ax.loglog(w, [r["gap_lin"] for r in rs], "s", label="to the linearised recursion (H∞)")
        ws = np.unique(w)
        ref = np.median([r["gap_lin"] for r in rs if r["width"] == ws[0]])
        ax.loglog(ws, ref * (ws / ws[0]) ** -0.5, "k:", lw=1, label="m^-1/2")
        ax.set_xlabel("width m")
        ax.set_ylabel("sup_k ‖e_k − ê_k‖ / ‖e_0‖")
        ax.set_title(TITLES[method])
        ax.legend(fontsize=8)
    return save(fig, path)


def plot_floor_vs_lr(floors: dict[str, dict[str, list[float]]], path: Path) -> Path:
    """Discretisation floor (linearised recursion vs ODE, same ODE horizon) vs learning rate, log-log."""
    fig, ax = figure()
    for method, f in floors.items():
        ax.loglog(f["lr"], f["floor"], "o-", label=f"{TITLES[method]} (slope {f['slope']:+.2f})")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("sup ‖e_lin − e_ODE‖ / ‖e_0‖")
    ax.set_title("time map: the discrete method → its ODE as η → 0")
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_nag_slopes(runs: list[dict[str, Any]], window: tuple[float, float], path: Path) -> Path:  # runs: + "slope"
    """NAG loss vs ODE time (log-log) for every r and η, the Bessel ODE prediction dashed, fit window shaded."""
    fig, ax = figure(figsize=(7.0, 4.8))
    colors = {}
    for r in sorted(runs, key=lambda r: (r["r"], -r["lr"])):
        t = ode_time(np.arange(len(r["loss"])), r["lr"], "nag")
        c = colors.setdefault(r["r"], f"C{len(colors)}")
        style = "-" if r["lr"] == max(x["lr"] for x in runs) else "-."
        ax.loglog(t[1:], r["loss"][1:], style, color=c, lw=1.2,
                  label=f"r = {r['r']:g}, η = {r['lr']:.3g} (slope {r['slope']:+.2f})")
        ax.loglog(t[1:], r["ode_loss"][1:], "--", color=c, lw=0.8, alpha=0.7)
    ax.axvspan(*window, color="0.9", zorder=0)
    ax.set_xlabel("ODE time t = k√η")
    ax.set_ylabel("loss ½‖u − y‖²")
    ax.set_title("Nesterov: measured (solid) vs Bessel ODE (dashed)")
    ax.legend(fontsize=7)
    return save(fig, path)


def plot_notebook_curve(epochs: list[int], loss: list[float], paper: dict[int, float], path: Path, *,
                        title: str) -> Path:
    """The notebook's loss record vs epoch (log-log) with the printed values of the paper's run."""
    fig, ax = figure()
    ax.loglog(epochs, loss, lw=1.2, label="measured")
    if paper:
        pe = sorted(paper)
        ax.loglog(pe, [paper[e] for e in pe], "k.", ms=5, label="notebook (printed)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)


def plot_width_curves(curves: dict[str, dict[int, float]], paper: dict[str, dict[int, float]], path: Path, *,
                      title: str, label: str) -> Path:
    """Loss at epoch 200 vs width, one curve per momentum setting; the notebook's values dotted."""
    fig, ax = figure()
    for i, (key, c) in enumerate(curves.items()):
        w = sorted(c)
        ax.plot(w, [c[m] for m in w], "o-", color=f"C{i}", label=f"{label} = {key} (measured)")
        if key in paper:
            pw = sorted(paper[key])
            ax.plot(pw, [paper[key][m] for m in pw], ":", color=f"C{i}", alpha=0.7, label=f"{label} = {key} (notebook)")
    ax.set_yscale("log")
    ax.set_xlabel("width m")
    ax.set_ylabel("loss at epoch 200")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return save(fig, path)


def plot_ggn_residuals(runs: list[dict[str, Any]], path: Path) -> Path:
    """GGN residual norms ‖e_t‖ per step (semi-log) for every width: quadratic convergence bends down."""
    fig, ax = figure()
    for r in sorted(runs, key=lambda r: (r["width"], r["seed"])):
        ax.semilogy(range(len(r["residuals"])), r["residuals"], "o-", ms=4, label=f"m = {r['width']}, seed {r['seed']}")
    ax.set_xlabel("GGN step t (full batch, lr 1, λ = 0)")
    ax.set_ylabel("‖f(w_t) − y‖")
    ax.set_title("Gram-Gauss-Newton residuals")
    ax.legend(fontsize=7)
    return save(fig, path)


def plot_regression(task: str, curves: list[dict[str, Any]], path: Path) -> Path:
    """Training loss vs epoch and vs wall time for GGN and every SGD / Adam setting of one task."""
    fig, axes = figure(ncols=2, figsize=(10.0, 4.2))
    for c in curves:
        lab = f"{c['name']} lr={c['lr']:g}"
        style = "k-" if c["name"] == "ggn" else "-"
        axes[0].semilogy(range(len(c["loss"])), c["loss"], style, lw=1.5 if c["name"] == "ggn" else 1, label=lab)
        axes[1].semilogy(c["seconds"], c["loss"][:len(c["seconds"])], style, label=lab)
    axes[0].set_xlabel("epoch")
    axes[1].set_xlabel("training wall time (s)")
    finite = [v for c in curves for v in c["loss"] if np.isfinite(v) and v > 0]
    top = 3 * max(c["loss"][0] for c in curves)  # a diverged run would flatten everything else
    for ax in axes:
        ax.set_ylim(0.5 * min(finite), top)
        ax.set_ylabel("training MSE")
        ax.legend(fontsize=7)
    axes[0].set_title(f"{task}: GGN vs SGD")
    return save(fig, path)


def plot_epoch_curves(curves: dict[str, list[float]], path: Path, *, title: str, label: str,
                      paper: dict[str, dict[int, float]] | None = None) -> Path:
    """Loss vs epoch (log-log), one curve per setting, with the notebook's printed values as dots."""
    fig, ax = figure()
    for i, (key, loss) in enumerate(curves.items()):
        ax.loglog(range(1, len(loss) + 1), loss, color=f"C{i}", lw=1.2, label=f"{label} = {key}")
        if paper and key in paper:
            pe = sorted(paper[key])
            ax.loglog(pe, [paper[key][e] for e in pe], "o", color=f"C{i}", ms=5, mfc="none",
                      label=f"{label} = {key} (notebook)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return save(fig, path)


# ---- one entry per claim: plot(data, settings, out_dir) -> files (the data is the claim's run output) ----------
def _by_method(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        out.setdefault(r["method"], []).append(r)
    return out


def plot_ode_limit(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    by = _by_method(data["runs"])
    return [plot_loss_curves(by, out / "loss_vs_time.png", loglog=False),
            plot_loss_curves(by, out / "loss_vs_time_loglog.png", loglog=True),
            plot_gap_vs_width(by, out / "gap_vs_width.png"), plot_floor_vs_lr(data["floors"], out / "floor_vs_lr.png")]


def plot_hb(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    seed = min(r["seed"] for r in data["runs"])
    runs = [r for r in data["runs"] if r["seed"] == seed]
    files = [plot_loss_curves({"gd": [r for r in runs if r["method"] == "gd"],
                               "hb": [r for r in runs if r["method"] == "hb"]}, out / "hb_gd_loss.png", loglog=False)]
    if data.get("notebook"):
        files.append(plot_epoch_curves({format(r["momentum"], "g"): r["loss"] for r in data["notebook"] if r["loss"]},
                                       out / "notebook_hb_epochs.png", label="β",
                                       title="notebook HB (600 MNIST, m=3000, lr 1e-4)"))
    return files


def plot_nag(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    from netoptima.dynamics.measure import nag_slopes

    seed = min(r["seed"] for r in data["runs"])
    runs = [{**r, **nag_slopes(r, *data["window"])} for r in data["runs"] if r["seed"] == seed]
    files = [plot_nag_slopes(runs, tuple(data["window"]), out / "nag_loglog.png")]
    if data.get("notebook"):
        files.append(plot_epoch_curves({format(r["r"], "g"): r["loss"] for r in data["notebook"] if r["loss"]},
                                       out / "notebook_nag_epochs.png", label="d",
                                       title="notebook NAG (600 MNIST, m=3000, lr 1e-4)"))
    return files


def plot_notebook_gd(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    from netoptima.dynamics.paper import NOTEBOOK_GD_PRINTED

    loss = data["loss"]
    if not loss:
        return []
    reached = {e: v for e, v in NOTEBOOK_GD_PRINTED.items() if e <= len(loss)}
    return [plot_notebook_curve(list(range(1, len(loss) + 1)), loss, reached, out / "notebook_gd.png",
                                title="notebook GD: 600 MNIST, m=3000, lr 1e-4")]


def plot_width(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    from netoptima.dynamics.paper import HB_WIDTH_PRINTED

    curves = {k: {int(m): v for m, v in c.items()} for k, c in data["curves"].items()}
    hb = data["optimizer"] == "hb"
    printed = HB_WIDTH_PRINTED if hb and s.n == 600 else {}
    return [plot_width_curves(curves, printed, out / f"{data['optimizer']}_width.png", label="β" if hb else "d",
                              title=f"{data['optimizer'].upper()}: loss at epoch {s.epochs} vs width "
                                    f"({s.n} MNIST, lr {s.lr:g})")]


def plot_ggn(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    return [plot_ggn_residuals(data["runs"], out / "ggn_residuals.png")]


def plot_regressions(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    seed = min(r["seed"] for r in data["runs"])
    return [plot_regression(r["task"], r["curves"], out / f"{r['task']}.png")
            for r in data["runs"] if r["seed"] == seed]
