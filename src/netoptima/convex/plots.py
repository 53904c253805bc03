"""Figures of the convex claims, drawn from the claims' data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from netoptima.report.plots import figure, save


def plot_spectra(run: dict[str, Any], path: Path) -> Path:
    """Eigenvalues of the SDP solution's Z and Z′: the decoded width is the number above the threshold."""
    fig, ax = figure()
    for key, label in (("eig_Z", "Z (α > 0)"), ("eig_Zp", "Z′ (α < 0)")):
        lam = np.maximum(np.asarray(run[key]), 1e-18)
        ax.semilogy(np.arange(1, lam.size + 1), lam, "o-", ms=3, label=label)
    ax.axhline(1e-10 * max(1.0, max(run["eig_Z"][0], run["eig_Zp"][0])), color="k", ls="--", lw=1,
               label="decomposition threshold")
    ax.set_xlabel("index")
    ax.set_ylabel("eigenvalue")
    ax.set_title(f"SDP solution (seed {run['seed']}): decoded width {run['width']} ≤ 2(d+1) = {run['width_bound']}")
    ax.legend()
    return save(fig, path)


def plot_certificate(runs: list[dict[str, Any]], path: Path) -> Path:
    """Per seed: SDP value, certificate lower bound and objective; and sampled max vs M vs β."""
    fig, (ax1, ax2) = figure(ncols=2, figsize=(10, 4))
    seeds = np.arange(len(runs))
    ax1.plot(seeds, [r["sdp_value"] for r in runs], "o", ms=9, mfc="none", label="SDP value")
    ax1.plot(seeds, [r["lower_bound"] for r in runs], "x", label="certificate lower bound")
    ax1.plot(seeds, [r["objective"] for r in runs], "+", label="decoded net objective")
    ax1.set_xlabel("instance")
    ax1.set_ylabel("objective")
    ax1.set_title("lower bound = SDP value = objective")
    ax1.legend(fontsize=8)
    w = 0.35
    ax2.bar(seeds - w / 2, [r["sampled_max"] / r["dual_max"] for r in runs], w, label="max over random u / M")
    ax2.bar(seeds + w / 2, [r["dual_max_over_beta"] for r in runs], w, label="M / β")
    ax2.axhline(1.0, color="k", lw=1)
    ax2.set_xlabel("instance")
    ax2.set_title("TRS maximum M is never exceeded; M = β at the optimum")
    ax2.legend(fontsize=8)
    return save(fig, path)


def plot_backprop(runs: list[dict[str, Any]], p_star: float, fail_gap: float, path: Path) -> Path:
    """Objective curves of every finished run, relative to the SDP optimum p*, per optimizer."""
    fig, ax = figure()
    for opt, color in (("adam", "C0"), ("sgd", "C1")):
        for r in (r for r in runs if r["optimizer"] == opt):
            curve = np.asarray(r["curve"])
            steps = np.linspace(0, r["steps"], curve.size)
            ax.semilogy(steps, np.maximum((curve - p_star) / abs(p_star), 1e-12), color=color, alpha=0.6, lw=1,
                        label=f"{opt} lr={r['lr']:g}")
    ax.axhline(fail_gap, color="k", ls="--", lw=1, label=f"{fail_gap:g} above p*")
    ax.set_xlabel("step")
    ax.set_ylabel("(objective − p*) / p*")
    ax.set_title("backprop vs the SDP optimum p*")
    handles, labels = ax.get_legend_handles_labels()
    keep = {lab: h for h, lab in zip(handles, labels, strict=True)}
    ax.legend(keep.values(), keep.keys(), fontsize=7, ncol=2)
    return save(fig, path)


def plot_mnist(runs: list[dict[str, Any]], gap_tol: float, path: Path) -> Path:
    """fit_global: its own certified relative gap vs outer iteration per class, and the independent final gap."""
    fig, ax = figure()
    for i, r in enumerate(sorted(runs, key=lambda r: r["digit"])):
        h = r["history"]
        ax.semilogy([e["iteration"] for e in h], [max(e["relative_gap"], 1e-12) for e in h], "-o", ms=2,
                    color=f"C{i % 10}", label=f"digit {r['digit']}")
        ax.plot([h[-1]["iteration"]], [max(r["rel_gap"], 1e-12)], "x", ms=8, color=f"C{i % 10}")
    ax.axhline(gap_tol, color="k", ls="--", lw=1, label=f"target {gap_tol:g}")
    ax.set_xlabel("outer iteration (one exact TRS certificate each); × = independent re-certification")
    ax.set_ylabel("(primal − lower bound) / primal")
    ax.set_title("fit_global on MNIST, one-vs-all (d = 784)")
    ax.legend(fontsize=7, ncol=2)
    return save(fig, path)


# ------------------------------------------------------------------------- the claims' plot functions (data, s, out)


def plot_sdp_exact(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    return [plot_spectra(data["runs"][0], out / "sdp_spectra.png")] if data["runs"] else []


def plot_certificate_claim(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    return [plot_certificate(data["runs"], out / "certificate.png")] if data["runs"] else []


def plot_backprop_gap(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    done = [r for r in data["runs"] if not r["diverged"]]
    if not done or data["optimum"] is None:
        return []
    return [plot_backprop(done, data["optimum"]["sdp_value"], s.fail_gap, out / "backprop_gaps.png")]


def plot_mnist_global(data: dict[str, Any], s: Any, out: Path) -> list[Path]:
    return [plot_mnist(data["global"], s.gap_tol, out / "mnist_gap.png")] if data["global"] else []
