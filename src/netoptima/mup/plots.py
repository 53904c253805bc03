"""Figures of the ``mup.*`` claims, each drawn from the claim's data (no training here)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_convergence", "plot_coord_check", "plot_feature_change", "plot_feature_diversity",
           "plot_global_convergence", "plot_lr_transfer", "plot_transfer", "plot_vs_width"]

COLORS = {"SP": "tab:blue", "NTP": "tab:orange", "μP": "tab:green", "MF": "tab:red", "SP (η const)": "tab:purple"}


def plot_vs_width(by: Mapping[str, Sequence[dict[str, Any]]], key: str, slope: Callable[[Sequence[dict], str, int],
                  float], *, ylabel: str, title: str, path: Path, colors: Mapping[str, str]) -> Path:
    """One panel per hidden layer: the mean of ``run[key][layer]`` against width per variant (log-log)."""
    from netoptima.report.plots import figure, save

    layers = max(len(r[key]) for rs in by.values() for r in rs if r[key] is not None)
    fig, axes = figure(ncols=layers, figsize=(4.6 * layers, 3.8), squeeze=False)
    for l, ax in enumerate(axes[0]):
        for label, rs in by.items():
            ok = [r for r in rs if not r["diverged"] and r[key] is not None and r[key][l] > 0]
            widths = sorted({r["width"] for r in ok})
            if not widths:
                continue
            mean = [np.mean([r[key][l] for r in ok if r["width"] == w]) for w in widths]
            ax.loglog(widths, mean, "o--" if "const" in label else "o-", color=colors.get(label), ms=4,
                      label=f"{label} ({slope(rs, key, l):+.2f})")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("width n")
        ax.set_ylabel(ylabel)
        ax.set_title(f"layer {l + 1}: x^{l + 1} = φ(h^{l + 1})")
        ax.legend(fontsize=7, title="fitted slope", title_fontsize=7)
    fig.suptitle(title)
    return save(fig, path)


def plot_convergence(runs: Sequence[dict[str, Any]], path: Path) -> Path:
    """Loss (with the Cor. 4.6 bound), λ_min(K/n) per hidden layer and the readout gradient along training."""
    from netoptima.report.plots import figure, save

    fig, axes = figure(ncols=3, figsize=(13, 3.8))
    for r in runs:
        if r["diverged"]:
            continue
        t = r["t"]
        axes[0].semilogy(t, r["loss"], "-", label=f"n={r['width']}")
        bound = [math.nan if b is None else b for b in r["bound"]]
        axes[0].semilogy(t, bound, ":", color=axes[0].lines[-1].get_color(), label=f"bound n={r['width']}")
        for l in range(len(r["lam_n"][0])):
            axes[1].semilogy(t, [v[l] for v in r["lam_n"]], "-" if l else "--", label=f"n={r['width']} layer {l + 1}")
        axes[2].semilogy(t, r["grad"], "-", label=f"n={r['width']}")
    axes[0].set_title("training loss (dotted: Cor. 4.6 bound)")
    axes[1].set_title("λ_min(K/n) of hidden features")
    axes[2].set_title("‖Σ_i ℓ'_i x^L(ξ_i)‖ (readout gradient)")
    for ax in axes:
        ax.set_xlabel("SGD step")
        ax.legend(fontsize=7)
    return save(fig, path)


def plot_transfer(widths: Sequence[int], log2_lrs: Sequence[float], curves: Mapping[str, Mapping[int, list]],
                  best: Mapping[str, Mapping[int, float]], path: Path) -> Path:
    """Final training loss against log2 η per width, SP and μP side by side, with each width's η* dotted."""
    from netoptima.report.plots import figure, save

    fig, axes = figure(ncols=2, figsize=(10, 3.8), sharey=True)
    for ax, p, name in ((axes[0], "sp", "SP"), (axes[1], "mup", "μP")):
        for n in widths:
            xs = [k for k, v in zip(log2_lrs, curves[p][n], strict=True) if v is not None]
            ys = [v for v in curves[p][n] if v is not None]
            if not xs:
                continue
            line, = ax.semilogy(xs, ys, "o-", ms=3, label=f"n={n} (η*=2^{best[p][n]:.2f})")
            if not math.isnan(best[p][n]):
                ax.axvline(best[p][n], color=line.get_color(), lw=0.8, ls=":")
        ax.set_title(f"{name}: training loss vs learning rate")
        ax.set_xlabel("log2 η")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("final training loss (MSE, mean over seeds)")
    return save(fig, path)


def plot_coord_check(records: Sequence[dict[str, Any]] | dict[str, Sequence[dict[str, Any]]], path: Path, *,
                     title: str = "") -> Path:
    """mup-style coord-check figure: mean |h^l| against width (log-log) per step, one line per layer.

    Arguments:
        records: the output of :func:`coord_check`, or ``{row label: records}`` for one row of panels per
            parametrization (one figure instead of several).
        path: where the PNG goes.
        title: figure title.
    """
    from netoptima.report.plots import figure, save

    rows = dict(records) if isinstance(records, dict) else {"": records}
    if not rows or not all(isinstance(rs, Sequence) and rs and all(
            isinstance(r, dict) and {"t", "layer", "width", "l1"} <= r.keys() for r in rs) for rs in rows.values()):
        raise ValueError("records must be coord_check's non-empty list of dicts with keys 't', 'layer', 'width' "
                         "and 'l1' (or a dict of such lists)")
    ts = sorted({r["t"] for rs in rows.values() for r in rs})
    fig, axes = figure(nrows=len(rows), ncols=len(ts), figsize=(3.0 * len(ts), 2.6 * len(rows) + 0.4),
                       squeeze=False)
    for row, (label, recs) in zip(axes, rows.items(), strict=True):
        layers = sorted({r["layer"] for r in recs}, key=lambda s: (s == "out", s))
        for ax, t in zip(row, ts, strict=True):
            for layer in layers:
                rs = [r for r in recs if r["t"] == t and r["layer"] == layer]
                widths = sorted({r["width"] for r in rs})
                mean = [np.mean([r["l1"] for r in rs if r["width"] == w]) for w in widths]
                ax.loglog(widths, mean, "o-", ms=3, label=layer)
            ax.set_xscale("log", base=2)
            ax.set_title(f"{label} t = {t}".strip(), fontsize=9)
        row[0].set_ylabel("mean |h^l|")
        row[0].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("width n")
    if title:
        fig.suptitle(title)
    return save(fig, path)


# The claims' figures: (data, settings, out directory) -> files written, one figure per net (activation, depth L).

def _per_net(data: dict[str, Any], s: Any) -> list[tuple[str, str, list[dict[str, Any]]]]:
    from netoptima.mup.experiments import split_nets

    return [(f"L{L}_{a}", f"L={L}, {a}", rs) for (a, L), rs in split_nets(data["runs"], s).items() if rs]


def plot_feature_change(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    from netoptima.mup.experiments import by_variant
    from netoptima.mup.features import width_slope

    paths = [plot_vs_width(by_variant(rs), "change", width_slope, colors=COLORS,
                           ylabel="median ‖x − x0‖/‖x0‖ over probes", path=out / f"feature_change_{tag}.png",
                           title=f"relative feature change after {s.steps} SGD steps ({label})")
             for tag, label, rs in _per_net(data, s)]
    done = {c["parametrization"]: c["records"] for c in data["coord"] if c["records"]}
    if done:
        paths.append(plot_coord_check(done, out / "coord_check.png", title=f"coord check, η={s.lr}"))
    return paths


def plot_feature_diversity(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    from netoptima.mup.experiments import by_variant
    from netoptima.mup.features import width_slope

    paths = []
    for tag, label, rs in _per_net(data, s):
        by = by_variant(rs)
        paths += [plot_vs_width(by, "lam_n", width_slope, colors=COLORS, ylabel="λ_min(K/n) after training",
                                title=f"feature diversity after {s.steps} SGD steps (K = HHᵀ, /n ours; {label})",
                                path=out / f"feature_diversity_{tag}.png"),
                  plot_vs_width(by, "lam", width_slope, colors=COLORS, ylabel="λ_min(K) (the paper's, unnormalised)",
                                title=f"feature Gram λ_min without the 1/n ({label})",
                                path=out / f"feature_gram_raw_{tag}.png"),
                  plot_vs_width(by, "joint_n", width_slope, colors=COLORS, ylabel="λ_min(J/n), J of [h0, h]",
                                title=f"joint Gram of initial and final features ({label})",
                                path=out / f"joint_gram_{tag}.png")]
    return paths


def plot_global_convergence(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    return [plot_convergence(rs, out / f"global_convergence_{tag}.png") for tag, _, rs in _per_net(data, s)]


def plot_lr_transfer(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    from netoptima.mup.experiments import seeds_of, widths_of
    from netoptima.mup.transfer import best_log2_lr, mean_loss_curves

    paths = []
    for tag, _, rs in _per_net(data, s):
        widths = widths_of(s, rs[0]["activation"])
        curves = mean_loss_curves(rs, widths, s.log2_lrs, seeds_of(s, rs[0]["activation"]))
        if not {"mup", "sp"} <= set(curves):
            continue
        best = {p: {n: best_log2_lr(s.log2_lrs, c) for n, c in cs.items()} for p, cs in curves.items()}
        paths.append(plot_transfer(widths, s.log2_lrs, curves, best, out / f"lr_transfer_{tag}.png"))
    return paths
