"""Measurements the convex judges take from run data (pure functions of JSON records)."""

from __future__ import annotations

from typing import Any

import numpy as np


def best_lr_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The finished runs at each optimizer's best learning rate (lowest median final objective)."""
    best = []
    for opt in sorted({r["optimizer"] for r in runs}):
        by_lr: dict[float, list[dict[str, Any]]] = {}
        for r in runs:
            if r["optimizer"] == opt:
                by_lr.setdefault(r["lr"], []).append(r)
        best += min(by_lr.values(), key=lambda rs: float(np.median([r["objective"] for r in rs])))
    return best


def correct_per_image(runs: list[dict[str, Any]], labels: np.ndarray, classes: tuple[int, ...]) -> np.ndarray | None:
    """Per test image of a fitted class: whether the argmax of the one-vs-all scores is its label (``None`` when a
    class has no run)."""
    by = {r["digit"]: r["test_scores"] for r in runs}
    if set(by) != set(classes):
        return None
    keep = np.isin(labels, classes)
    pred = np.asarray(classes)[np.stack([np.asarray(by[k]) for k in classes], axis=1).argmax(axis=1)]
    return (pred == labels)[keep]
