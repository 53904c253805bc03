"""Figures of the explicit claims, one function per figure, drawn from a claim's data and settings (no training).

Each public function has the claim contract's plot signature ``(data, settings, out_dir) -> [files]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from netoptima.explicit import paper
from netoptima.report.plots import figure, save

Runs = list[dict[str, Any]]
Data = dict[str, Any]


def near_optimal(data: Data, s: Any, out: Path) -> list[Path]:
    """Train and test CE per LM setting: explicit, tempered, warm Adam (best valid), L-BFGS optimum."""
    runs = data["runs"]
    if not runs:
        return []
    fig, axes = figure(ncols=2, figsize=(11, 4.2), sharey=False)
    labels = [f"K={r['context']} {r['aggregate']}" for r in runs]
    x = np.arange(len(runs))
    series = [("explicit", "explicit (naive Bayes)"), ("tempered", "explicit α*·log F"),
              ("warm_best", "explicit → Adam (best valid)"), ("optimum", "L-BFGS optimum")]
    for ax, split in zip(axes, ("train", "test"), strict=True):
        for k, (key, name) in enumerate(series):
            ax.bar(x + (k - 1.5) * 0.2, [r[key][split] for r in runs], 0.2, label=name)
        ax.axhline(runs[0]["uniform"], color="k", ls=":", lw=1, label="uniform log N")
        ax.set_xticks(x, labels, rotation=20)
        ax.set_ylabel(f"{split} cross-entropy (nats/token)")
        ax.set_title(f"{split}: explicit vs iterative optimization")
        lo = min(min(r[key][split] for key, _ in series) for r in runs)
        top = runs[0]["uniform"] + 0.3
        ax.set_ylim(max(0.0, lo - 0.5), top)
        for i, r in enumerate(runs):  # label bars that the axis clips
            for k, (key, _) in enumerate(series):
                if r[key][split] > top:
                    ax.text(i + (k - 1.5) * 0.2, top - 0.05, f"{r[key][split]:.1f}", ha="center", va="top",
                            fontsize=7, rotation=90)
    axes[0].legend(fontsize=7)
    return [save(fig, out / "lm_near_optimal.png")]


def distance(data: Data, s: Any, out: Path) -> list[Path]:
    """Distance of cold-start training to the explicit solution and to the control, per seed."""
    runs = data["runs"]
    if not runs:
        return []
    fig, ax = figure()
    for i, r in enumerate(runs):
        ep = [c["epoch"] for c in r["curve"]]
        ax.plot(ep, [c["distance"] for c in r["curve"]], "-o", ms=3, color=f"C{i}",
                label=f"to explicit solution (seed {r['seed']})")
        ax.plot(ep, [c["distance_control"] for c in r["curve"]], ":", color=f"C{i}",
                label=f"to control: explicit of shuffled text (seed {r['seed']})")
    ax.set_xlabel("epoch (Adam from random init)")
    ax.set_ylabel("relative distance (row-centred)")
    ax.set_title(f"cold start → explicit solution? (K={s.context} {s.aggregate})", fontsize=10)
    ax.legend(fontsize=7)
    return [save(fig, out / "distance_to_explicit.png")]


def warm_cold(data: Data, s: Any, out: Path) -> list[Path]:
    """Training and valid CE of the warm and cold starts, with the L-BFGS optimum and the targets."""
    warm, cold = data["warm"], data["cold"]
    if not (warm and cold and data["optimum"]):
        return []
    optimum, L_exp = data["optimum"]["train"], warm[0]["explicit_train"]
    targets = {f"{q:g} of the way": optimum + q * (L_exp - optimum) for q in s.fractions}
    fig, ax = figure()
    for runs, c in ((warm, "C0"), (cold, "C1")):
        for i, r in enumerate(runs):
            ep = [p["epoch"] for p in r["curve"]]
            ax.plot(ep, [p["train"] for p in r["curve"]], "-", color=c,
                    label=f"{r['start']} start (train)" if i == 0 else None)
            ax.plot(ep, [p["valid"] for p in r["curve"]], "--", color=c, lw=0.8,
                    label=f"{r['start']} start (valid)" if i == 0 else None)
    ax.axhline(optimum, color="k", lw=1, label="L-BFGS optimum (train)")
    for name, T in targets.items():
        ax.axhline(T, color="gray", ls=":", lw=1)
        ax.text(0, T, name, fontsize=7, va="bottom")
    top = max(warm[0]["explicit_train"], *(r["curve"][-1]["valid"] for r in warm + cold))
    ax.set_ylim(optimum - 0.3, top + 0.8)
    ax.set_xlabel(f"epoch (Adam lr {s.lr})")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(f"warm vs cold start (K={s.context} {s.aggregate})")
    ax.legend(fontsize=7)
    return [save(fig, out / "warm_vs_cold.png")]


def mnist(data: Data, s: Any, out: Path) -> list[Path]:
    """Test accuracy of the explicit forms, fine-tuned, cold-trained and logistic-regression classifiers."""
    e = data["explicit"]
    if e is None:
        return []
    bars = [("explicit\n(prior form)", e["explicit"]["test_acc"]),
            ("explicit\n(NB K̄ form)", e["explicit_nb_form"]["test_acc"]),
            ("explicit\nα*-tempered", e["tempered"]["test_acc"]),
            (f"explicit →\nAdam {s.epochs:g} ep", e["warm_adam"]["test_acc"]),
            (f"random →\nAdam {s.epochs:g} ep", e["cold_adam"]["test_acc"])]
    if data["optimum"] is not None:
        bars.append(("logistic reg.\n(L-BFGS optimum)", data["optimum"]["test_acc"]))
    fig, ax = figure(figsize=(8, 4.2))
    ax.bar(range(len(bars)), [v for _, v in bars], color=["C0", "C0", "C0", "C2", "C1", "C3"][: len(bars)])
    for i, (_, v) in enumerate(bars):
        ax.text(i, v + 0.005, f"{100 * v:.1f}%", ha="center", fontsize=8)
    ax.axhline(paper.MNIST_ACCURACY, color="k", ls=":", lw=1, label="paper: ≈ 82% with no training")
    ax.set_xticks(range(len(bars)), [n for n, _ in bars], fontsize=7)
    ax.set_ylim(0.0 if min(v for _, v in bars) < 0.5 else 0.5, 1.0)
    ax.set_ylabel("MNIST test accuracy")
    ax.legend(fontsize=8)
    return [save(fig, out / "mnist_accuracy.png")]


def better_optima(data: Data, s: Any, out: Path) -> list[Path]:
    """Left: single-layer L-BFGS from both starts; right: two-layer train CE curves, warm vs cold."""
    single, groups = data["single"], data["two_layer"]
    if len(single) < 2 or not all(groups.values()):
        return []
    d_single = abs(single[0]["train"] - single[1]["train"])
    fig, axes = figure(ncols=2, figsize=(11, 4.2))
    floor = min(min(r["curve"]) for r in single)
    for r in single:  # best loss so far (line-search trial points are not accepted iterates) above the best final
        best = np.minimum.accumulate(np.asarray(r["curve"]))
        axes[0].plot(range(1, len(best) + 1), best - floor + 1e-7, label=f"from {r['start']}")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("L-BFGS function evaluation")
    axes[0].set_ylabel("best train CE so far − best final (nats/token)")
    axes[0].set_title(f"single-layer LM (convex): |Δ final| = {d_single:.1e}")
    axes[0].legend()
    names = {"warm": "layer-local explicit → Adam", "cold": "random → Adam",
             "cold_long": f"random → Adam ({s.long}× epochs)"}
    for g, c, lw in (("cold_long", "C3", 1.0), ("warm", "C0", 2.0), ("cold", "C1", 3.0)):
        for i, r in enumerate(groups[g]):
            axes[1].plot([p["epoch"] for p in r["curve"]], [p["train_ce"] for p in r["curve"]], color=c, lw=lw,
                         alpha=0.8, label=names[g] if i == 0 else None)
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("train CE")
    axes[1].set_ylim(0, 2.5)
    axes[1].set_title(f"two softmax layers on MNIST ({s.seeds} seeds)")
    axes[1].legend(fontsize=8)
    return [save(fig, out / "better_optima.png")]
