"""Benchmark: seed-epochs per second of the batched CoGO trainer vs the straightforward per-seed formulation.

Both train d = 23, q = 512 with the paper's protocol (Adam lr 0.01, coupled wd, full batch) in float32, in the
same process and thread count, interleaved over several rounds (median reported) so that a shared machine's
load hits both alike. The straightforward form gathers h = W_a[:, g1] + W_b[:, g2], squares, multiplies and runs
autograd + torch.optim.Adam (``netoptima.cogo.train_reference``); ours evaluates the full pair grid with a
per-seed mask as three GEMMs per seed (one seed at a time on the CPU), a hand-written backward and a fused Adam
step over all seeds (``netoptima.cogo.train``).

Reported: seed-epochs/s of each (ours at fixed width, S = 1 and S = 4 seeds per tensor program), the ratio,
our achieved GFLOP/s (3 GEMMs of 2·d³·q useful flops per seed-epoch; the zero rows that pad W_c's d classes to a
multiple of 8 are not counted) against a 1024² float32 GEMM measured in the same run, the d = 71 rate against
that run's GEMM, and the end-to-end rate of a full paper-protocol run (10,000 epochs, wd 1e-4) in which the trainer
drops the nodes that weight decay has killed (the reference's per-epoch cost is constant, so its rate is the
same).

    python benchmarks/cogo_sweep.py [--threads 1] [--rounds 3] [--out benchmarks/results/cogo_sweep.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from netoptima.cogo import train
from netoptima.cogo.train import train_reference
from netoptima.conventions import torch_threads
from netoptima.sweep import atomic_write_json


def gemm_gflops(n: int = 1024, reps: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def reference_rate(d: int, q: int, epochs: int) -> float:
    t0 = time.perf_counter()
    train_reference(d, q, seed=1, weight_decay=1e-4, steps=epochs)
    return epochs / (time.perf_counter() - t0)


def ours_rate(d: int, q: int, epochs: int, seeds: int, prune: bool = False, wd: float = 1e-4) -> float:
    res = train(d, q, seeds=list(range(1, seeds + 1)), weight_decay=wd, steps=epochs, record_every=max(epochs, 1),
                prune_below="auto" if prune else None, quiet=True)
    return seeds * epochs / res.seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--d", type=int, default=23)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ref-epochs", type=int, default=100)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--e2e-epochs", type=int, default=10_000,
                   help="end-to-end run of the paper protocol (wd 1e-4, dead-node pruning on); 0 skips it")
    p.add_argument("--e2e-wd", type=float, default=1e-4)
    p.add_argument("--d71-epochs", type=int, default=20,
                   help="epochs of the d = 71 rate (S = 1 and S = 3, fixed width) against the same-run GEMM; 0 skips")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "cogo_sweep.json"))
    args = p.parse_args()
    with torch_threads(args.threads):
        d, q = args.d, args.width
        load0 = os.getloadavg()
        ours_rate(d, q, 20, 1)  # warm-ups: allocations, MKL and sklearn initialisation
        reference_rate(d, q, 5)
        rates: dict[str, list[float]] = {"reference": [], "ours_S1": [], "ours_S4": [], "gemm_gflops": []}
        for r in range(args.rounds):
            rates["gemm_gflops"].append(gemm_gflops())
            rates["reference"].append(reference_rate(d, q, args.ref_epochs))
            rates["ours_S1"].append(ours_rate(d, q, args.epochs, 1))
            rates["ours_S4"].append(ours_rate(d, q, args.epochs, 4))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in rates.items()), flush=True)
        med = {k: statistics.median(v) for k, v in rates.items()}
        e2e = ours_rate(d, q, args.e2e_epochs, 1, prune=True, wd=args.e2e_wd) if args.e2e_epochs else None
        d71 = None
        if args.d71_epochs:
            g71 = gemm_gflops()
            r71 = {f"S{S}": ours_rate(71, q, args.d71_epochs, S) for S in (1, 3)}
            f71 = 3 * 2 * 71**3 * q
            d71 = {"seed_epochs_per_s": r71, "gemm_gflops": g71,
                   "achieved_gflops": {k: v * f71 / 1e9 for k, v in r71.items()},
                   "fraction_of_gemm": {k: v * f71 / 1e9 / g71 for k, v in r71.items()}}
        flop = 3 * 2 * d**3 * q  # per seed-epoch: forward GEMM + two backward GEMMs
        best = max(med["ours_S1"], med["ours_S4"])
        result = {
            "d": d, "width": q, "threads": args.threads, "rounds": args.rounds,
            "seed_epochs_per_s": med, "all_rounds": rates,
            "ratio_vs_reference": {"S1": med["ours_S1"] / med["reference"], "S4": med["ours_S4"] / med["reference"]},
            "achieved_gflops": {"reference": med["reference"] * flop / 1e9, "ours_best": best * flop / 1e9},
            "fraction_of_gemm": {"reference": med["reference"] * flop / 1e9 / med["gemm_gflops"],
                                 "ours_best": best * flop / 1e9 / med["gemm_gflops"]},
            "end_to_end_pruned": None if e2e is None else {
                "epochs": args.e2e_epochs, "weight_decay": args.e2e_wd, "seed_epochs_per_s": e2e,
                "ratio_vs_reference": e2e / med["reference"]},
            "d71": d71,
            "loadavg_start": load0, "loadavg_end": os.getloadavg(), "cpu_count": os.cpu_count(),
            "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        }
        path = atomic_write_json(args.out, result)
        print(f"reference {med['reference']:.0f}, ours S=1 {med['ours_S1']:.0f}, S=4 {med['ours_S4']:.0f} "
              "seed-epochs/s "
              f"-> {result['ratio_vs_reference']['S1']:.2f}x / {result['ratio_vs_reference']['S4']:.2f}x; "
              f"ours {result['achieved_gflops']['ours_best']:.1f} GFLOP/s = "
              f"{100 * result['fraction_of_gemm']['ours_best']:.0f}% of a {med['gemm_gflops']:.0f} GFLOP/s GEMM")
        if e2e is not None:
            print(f"end-to-end {args.e2e_epochs} epochs wd {args.e2e_wd:g} with dead-node pruning: "
                  f"{e2e:.0f} seed-epochs/s = {e2e / med['reference']:.1f}x the reference")
        if d71 is not None:
            print("d = 71 fixed width: " + ", ".join(
                f"{k} {v:.1f} seed-epochs/s = {d71['achieved_gflops'][k]:.1f} GFLOP/s = "
                f"{100 * d71['fraction_of_gemm'][k]:.0f}%" for k, v in d71["seed_epochs_per_s"].items())
                  + f" of a {d71['gemm_gflops']:.0f} GFLOP/s GEMM (same run)")
        print(f"load average {load0} -> {result['loadavg_end']}; wrote {path}")


if __name__ == "__main__":
    main()
