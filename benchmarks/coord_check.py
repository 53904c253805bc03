"""Benchmark: our coordinate check against microsoft/mup's ``get_coord_data`` on the same MLP, widths and data.

    python benchmarks/coord_check.py [--quick] [--out PATH] [--threads T]

For SP and μP, every width's net is built once by ``netoptima.mup.MLP`` (seed 0); mup gets the
same effective weights through ``mup_twin`` (``MuReadout`` + ``set_base_shapes``; μP base width 64, delta
128) and trains with ``MuSGD`` (μP) or ``torch.optim.SGD`` (SP). Both record mean |·| (mup's ``l1``) of every
linear layer's output at steps t = 1..3 on one fixed batch of 64 standardised MNIST images, MSE loss on
one-hot targets (mup's ``lossfn="mse"``), float32, lr 0.1.

Measured in this run, in one process, alternating ours / mup's per repeat (``--repeats``, median and min
stored; other processes on a shared machine only add time, so the load average before and after is stored):

- time of the whole coord check, building the models included for both: ours draws the init; mup's
  constructor fills an ``MLP`` shell with the pre-drawn weights and converts it with ``mup_twin`` (which
  builds the mup model plus its base and delta models for ``set_base_shapes``), so mup pays more
  construction than we do; a third timing builds mup's models before the clock starts (its training loop and
  hooks only);
- the largest relative difference between the two curves over (width, layer, t).

Writes ``benchmarks/results/parametrization_coord_check.json`` atomically.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from netoptima.conventions import torch_threads
from netoptima.mup import MLP, coord_check, load_images, mup_twin
from netoptima.sweep import atomic_write_json

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "parametrization_coord_check.json"
FULL_WIDTHS = [128, 256, 512, 1024, 2048, 4096]
QUICK_WIDTHS = [128, 256, 512]
STEPS, LR, BATCH, BASE, DEPTH = 3, 0.1, 64, 64, 3


def ours(parametrization: str, widths: list[int], X: torch.Tensor, y: torch.Tensor) -> tuple[float, dict]:
    t0 = time.perf_counter()
    recs = coord_check(parametrization, widths, steps=STEPS, depth=DEPTH, lr=LR, data=(X, y), base_width=BASE)
    seconds = time.perf_counter() - t0
    return seconds, {(r["width"], r["layer"], r["t"]): r["l1"] for r in recs}


def theirs(parametrization: str, widths: list[int], X: torch.Tensor, y: torch.Tensor,
           weights: dict[int, list[torch.Tensor]], *, prebuilt: bool = False) -> tuple[float, dict]:
    from mup.coord_check import get_coord_data

    def lazy(n: int) -> Any:
        if prebuilt:  # construction outside the timed region: only mup's training loop and hooks are timed
            model = build_twin(n)
            return lambda: model
        return lambda: build_twin(n)

    def build_twin(n: int) -> torch.nn.Module:
        # a fresh mup model of width n; mup_twin sets the base shapes and copies the effective weights
        model = MLP(X.shape[1], n, 10, depth=DEPTH, parametrization=parametrization, base_width=BASE)
        with torch.no_grad():
            for layer, w in zip(model.layers, weights[n], strict=True):
                layer.weight.copy_(w / layer.multiplier)
        return mup_twin(model)

    models = {n: lazy(n) for n in widths}
    t0 = time.perf_counter()
    df = get_coord_data(models, [(X, y)], optimizer="sgd", lr=LR,
                        mup=parametrization == "mup", nsteps=STEPS, lossfn="mse", cuda=False, show_progress=False)
    seconds = time.perf_counter() - t0
    names = {f"hidden.{l}": f"h{l + 1}" for l in range(DEPTH - 1)} | {"readout": "out"}
    curves = {(int(r.width), names[r.module], int(r.t)): float(r.l1) for r in df.itertuples() if r.module in names}
    return seconds, curves


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"widths {QUICK_WIDTHS} instead of {FULL_WIDTHS}")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: comparable on a shared box)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    with torch_threads(args.threads):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    widths = QUICK_WIDTHS if args.quick else FULL_WIDTHS
    X, Y = load_images("mnist", BATCH)
    X, y = X.float(), Y.argmax(dim=1)
    load_before = os.getloadavg()
    results = {}
    for p in ("sp", "mup"):
        weights = {n: MLP(X.shape[1], n, 10, depth=DEPTH, parametrization=p, base_width=BASE,
                          generator=torch.Generator().manual_seed(0)).effective_weights() for n in widths}
        t_ours, t_mup, t_pre = [], [], []
        for _ in range(args.repeats):
            s, a = ours(p, widths, X, y)
            t_ours.append(s)
            s, b = theirs(p, widths, X, y, weights)
            t_mup.append(s)
            s, c = theirs(p, widths, X, y, weights, prebuilt=True)
            t_pre.append(s)
        if c != b:
            raise RuntimeError("mup's curves depend on where its models are built")
        if set(a) != set(b):
            raise RuntimeError(f"curves cover different points: ours {sorted(a)[:3]}…, mup {sorted(b)[:3]}…")
        rel = max(abs(a[k] - b[k]) / abs(b[k]) for k in a)
        worst = max(a, key=lambda k: abs(a[k] - b[k]) / abs(b[k]))
        results[p] = {"seconds_ours_median": statistics.median(t_ours), "seconds_ours_min": min(t_ours),
                      "seconds_mup_median": statistics.median(t_mup), "seconds_mup_min": min(t_mup),
                      "speedup_median": statistics.median(t_mup) / statistics.median(t_ours),
                      "seconds_mup_prebuilt_median": statistics.median(t_pre),
                      "seconds_mup_prebuilt_min": min(t_pre),
                      "max_rel_diff": rel, "max_abs_diff": max(abs(a[k] - b[k]) for k in a),
                      "worst_point": {"width": worst[0], "layer": worst[1], "t": worst[2]},
                      "points": len(a)}
        print(f"{p:>3}: ours {statistics.median(t_ours):.3f} s, mup {statistics.median(t_mup):.3f} s "
              f"(mup/ours {results[p]['speedup_median']:.2f}x; mup with models built untimed "
              f"{statistics.median(t_pre):.3f} s); max rel diff of the curves {rel:.2e} at {worst}")
    record = {"benchmark": "coord_check", "widths": widths, "steps": STEPS, "lr": LR, "batch": BATCH,
              "depth": DEPTH, "base_width": BASE, "dtype": "float32", "threads": args.threads,
              "repeats": args.repeats, "results": results, "loadavg_before": load_before,
              "loadavg_after": os.getloadavg(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
              "python": sys.version.split()[0], "platform": platform.platform(),
              "finished_at": datetime.datetime.now().isoformat(timespec="seconds")}
    atomic_write_json(args.out, record)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
