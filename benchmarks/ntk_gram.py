"""Benchmark: layerwise NTK Gram (netoptima.ntk.ntk_gram) against the torch.func vmap(jacrev) recipe.

    python benchmarks/ntk_gram.py [--quick] [--out PATH] [--repeats R] [--threads T]

Models are float64 ReLU MLPs ``mlp([d, w, …, w, 1])`` (depth = number of Linear layers, scalar output,
d = 128 inputs) on n random inputs. The baseline is the recipe of PyTorch's "Neural Tangent Kernels"
tutorial: per-sample Jacobians ``vmap(jacrev(fnet_single), (None, 0))(params, X)`` and the contraction
``einsum('Naf,Mbf->NMab')`` summed over parameters. The tutorial computes the Jacobians of x1 and x2
separately; here x1 = x2 = X, so the baseline computes them once (in its favour).

How things are measured (all in this run, on this machine):

- Every (config, method) runs in a fresh subprocess, so memory is not shared between measurements.
- Every measurement first warms up on an 8-sample batch (lazy initialisation, vmap set-up), then makes
  one full-size call.
- Peak memory = peak RSS during that full-size call minus the RSS just before it (model and X already
  built): the kernel's peak mark VmHWM is reset through /proc/self/clear_refs right before the call.
  This counts everything the call touches (torch's CPU allocator returns big blocks to the OS, so RSS
  follows tensor lifetimes); it is a measurement, not an estimate. The tensor-size estimates (baseline:
  J = n·P·8 bytes; ours: G plus stored activations and Γ) are reported separately, and the baseline is
  skipped when its Jacobian alone would exceed 8 GB.
- Time = median of ``--repeats`` further timed calls (up to 25 within ~1 s when a call is fast); when
  the full-size call takes more than ``SLOW_S`` seconds, that call alone is the timing. The minimum is
  stored too (other processes on a shared machine only ever add time; the load average before and
  after the run is recorded).
- Threads: 1 by default (``--threads``), for the method, the baseline and dgemm alike. On a small
  machine shared with other jobs, a multi-threaded op stalls whenever one of its threads is descheduled,
  which inflates many short ops (ours) far more than a few long ones (the baseline).
- Machine peak: float64 ``torch.matmul`` of two 2048×2048 matrices (2·2048³ FLOPs, median of 3 after a
  warm-up), measured inside each of our measurement processes right after our timed calls, so both see
  the same machine state; "of dgemm" is our achieved GFLOP/s over that figure.
- Our FLOPs are counted analytically (``netoptima.ntk.gram.layerwise_flops``: forward, Γ backward, and
  the A Aᵀ, Γ Γᵀ products of the upper tiles); elementwise passes are not counted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

D_IN = 128
SKIP_GB = 8.0
SLOW_S = 5.0
DGEMM_N = 2048
FULL_GRID = {"n": [128, 512, 2048], "depth": [2, 3, 4], "width": [256, 1024]}
QUICK_GRID = {"n": [128, 512], "depth": [2, 3], "width": [256]}
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "ntk_gram.json"
GOAL_N, GOAL_RATIO = 512, 20.0


# ---------------------------------------------------------------- worker side (fresh process)

def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024  # kB


def _reset_peak_rss() -> float:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; return the baseline in MB.

    Falls back to the process's lifetime peak (``ru_maxrss``) where /proc/self/clear_refs is unavailable,
    which can under-report a call whose peak stays below an earlier one (e.g. the imports').
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # "5" resets VmHWM (Linux >= 4.0)
        return _status_mb("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _peak_rss_mb() -> float:
    try:
        return _status_mb("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(task: dict[str, Any]) -> tuple[Any, Any]:
    import torch

    from netoptima.models import mlp

    torch.manual_seed(task["seed"])
    model = mlp([D_IN] + [task["width"]] * (task["depth"] - 1) + [1], dtype=torch.float64)
    X = torch.randn(task["n"], D_IN, dtype=torch.float64)  # (n, d)
    return model, X


def recipe_gram(model: Any, X: Any) -> Any:
    """The torch.func tutorial's Jacobian-contraction NTK, with x1 = x2 = X (Jacobians computed once)."""
    import torch
    from torch.func import functional_call, jacrev, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}

    def fnet_single(p: dict[str, Any], x: Any) -> Any:
        return functional_call(model, p, (x.unsqueeze(0),)).squeeze(0)  # (1,)

    jac = vmap(jacrev(fnet_single), (None, 0))(params, X)  # name -> (n, 1, *p.shape)
    jac = [j.flatten(2) for j in jac.values()]  # (n, 1, #p)
    result = torch.stack([torch.einsum("Naf,Mbf->NMab", j, j) for j in jac]).sum(0)  # (n, n, 1, 1)
    return result[:, :, 0, 0]  # (n, n)


def _time_calls(fn: Any, first_s: float, repeats: int) -> list[float]:
    """Timed calls: ``repeats`` of them, more (up to 25, ~1 s in all) when a call is fast."""
    if first_s < 0.1:
        repeats = max(repeats, min(25, int(1.0 / max(first_s, 1e-3))))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def dgemm_gflops() -> float:
    """GFLOP/s of a float64 2048×2048 ``torch.matmul`` in this process (median of 3 after a warm-up)."""
    import torch

    A = torch.randn(DGEMM_N, DGEMM_N, dtype=torch.float64)
    B = torch.randn(DGEMM_N, DGEMM_N, dtype=torch.float64)
    torch.matmul(A, B)  # warm-up
    times = _time_calls(lambda: torch.matmul(A, B), 1.0, 3)
    return 2 * DGEMM_N**3 / statistics.median(times) / 1e9


def run_worker(task: dict[str, Any]) -> dict[str, Any]:
    """One measurement in this (fresh) process: peak-RSS growth of the first call, then timed repeats."""
    import torch

    from netoptima.ntk import ntk_gram

    if task.get("threads"):
        torch.set_num_threads(task["threads"])
    model, X = _build(task)
    gram = (lambda Z: ntk_gram(model, Z, method="layerwise")) if task["kind"] == "ours" else \
        (lambda Z: recipe_gram(model, Z))
    gram(X[:8])  # warm-up on a small batch: one-off initialisation stays out of memory and time
    rss0 = _reset_peak_rss()
    t0 = time.perf_counter()
    G = gram(X)
    first_s = time.perf_counter() - t0
    peak_mb = _peak_rss_mb() - rss0
    times = [first_s] if first_s > SLOW_S else _time_calls(lambda: gram(X), first_s, task["repeats"])
    out: dict[str, Any] = {"peak_rss_mb": peak_mb, "first_call_s": first_s, "times_s": times,
                           "median_s": statistics.median(times), "min_s": min(times)}
    if task["kind"] == "ours":
        out["dgemm_gflops"] = dgemm_gflops()
    else:
        ours = ntk_gram(model, X, method="layerwise")
        out["max_abs_diff"] = float((G - ours).abs().max())
        out["max_abs_gram"] = float(ours.abs().max())
    return out


# ---------------------------------------------------------------- driver side

def _spawn(task: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(task)], capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        return {"error": tail[0]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _param_count(depth: int, width: int) -> int:
    sizes = [D_IN] + [width] * (depth - 1) + [1]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _ours_estimate_mb(n: int, depth: int, width: int) -> float:
    """G (n²) + stored layer inputs and Γ (n·Σ widths each) + one tile's temporaries, in MB."""
    from netoptima.ntk.gram import _TILE

    widths = D_IN + width * (depth - 1)
    return 8 * (n * n + 2 * n * widths + 3 * _TILE * _TILE) / 1e6


def run_config(n: int, depth: int, width: int, repeats: int, threads: int) -> dict[str, Any]:
    import torch

    from netoptima.models import mlp
    from netoptima.ntk.gram import layerwise_flops

    P = _param_count(depth, width)
    task = {"n": n, "depth": depth, "width": width, "seed": 0, "repeats": repeats, "threads": threads}
    row: dict[str, Any] = {"n": n, "depth": depth, "width": width, "d_in": D_IN, "params": P}
    flops = layerwise_flops(mlp([D_IN] + [width] * (depth - 1) + [1], dtype=torch.float64), n)
    ours = _spawn({**task, "kind": "ours"})
    row["ours"] = {**ours, "flops": flops, "estimated_mb": _ours_estimate_mb(n, depth, width)}
    if "error" not in ours:
        row["ours"]["gflops"] = flops / ours["median_s"] / 1e9
        row["ours"]["fraction_of_dgemm"] = row["ours"]["gflops"] / ours["dgemm_gflops"]
    jac_gb = 8 * n * P / 1e9
    if jac_gb > SKIP_GB:
        reason = f"estimated memory {jac_gb:.1f} GB (Jacobian n·P·8 bytes > {SKIP_GB:g} GB)"
        row["recipe"] = {"skipped": reason}
    else:
        recipe = _spawn({**task, "kind": "recipe"})
        row["recipe"] = {**recipe, "estimated_jacobian_mb": jac_gb * 1e3}
        if "error" not in recipe and "error" not in ours:
            row["ratio"] = recipe["median_s"] / ours["median_s"]
    return row


def _fmt_row(r: dict[str, Any]) -> str:
    o, rc = r["ours"], r["recipe"]
    ours = (f"{o['median_s'] * 1e3:9.1f} {o['peak_rss_mb']:8.0f} {o['gflops']:7.1f} {o['dgemm_gflops']:6.1f} "
            f"{100 * o['fraction_of_dgemm']:4.0f}%") if "error" not in o else f"{'error: ' + o['error']:>38}"
    if "skipped" in rc:
        rec = "skipped: " + rc["skipped"].split(" (")[0]
    elif "error" in rc:
        rec = "error: " + rc["error"][:60]
    else:
        ratio = f"{r['ratio']:7.1f}x" if "ratio" in r else f"{'-':>8}"
        rec = f"{rc['median_s'] * 1e3:10.1f} {rc['peak_rss_mb']:8.0f} {ratio} {rc['max_abs_diff']:9.1e}"
    return f"{r['depth']:5d} {r['width']:5d} {r['n']:5d} {r['params']:8d} | {ours} | {rec}"


def _header() -> str:
    return (f"{'depth':>5} {'width':>5} {'n':>5} {'params':>8} | {'ours ms':>9} {'peak MB':>8} "
            f"{'GFLOP/s':>7} {'dgemm':>6} {'of it':>5} | "
            f"{'recipe ms':>10} {'peak MB':>8} {'ratio':>8} {'max|dG|':>9}")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)  # atomic: readers never see a half-written file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid (< 1 minute)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (median)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads in every measurement, dgemm included (default 1: "
                             "stable on a shared machine; 0 = torch's default)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads < 0:
        parser.error(f"--threads must be >= 0 (0 = torch's default), got {args.threads}")

    import torch

    threads = args.threads or torch.get_num_threads()

    grid = QUICK_GRID if args.quick else FULL_GRID
    start, load_before = time.perf_counter(), os.getloadavg()
    print(f"NTK Gram, float64 ReLU MLPs (d = {D_IN}, scalar output): torch {torch.__version__}, {threads} "
          f"thread(s), load average {load_before[0]:.2f} on {os.cpu_count()} cores", flush=True)
    if load_before[0] > 0.5 * (os.cpu_count() or 1):
        print(f"warning: the machine is busy (load average {load_before[0]:.1f} on {os.cpu_count()} cores); "
              "timings will be inflated and noisy", flush=True)
    print(_header(), flush=True)
    rows = []
    for n in grid["n"]:
        for depth in grid["depth"]:
            for width in grid["width"]:
                rows.append(run_config(n, depth, width, args.repeats, threads))
                print(_fmt_row(rows[-1]), flush=True)
    dgemms = [r["ours"]["dgemm_gflops"] for r in rows if "dgemm_gflops" in r["ours"]]
    fractions = [r["ours"]["fraction_of_dgemm"] for r in rows if "fraction_of_dgemm" in r["ours"]]

    goal_rows = [r for r in rows if r["n"] == GOAL_N and "ratio" in r]
    goal = {"n": GOAL_N, "target_ratio": GOAL_RATIO,
            "ratios": {f"depth{r['depth']}_width{r['width']}": r["ratio"] for r in goal_rows},
            "min_ratio": min((r["ratio"] for r in goal_rows), default=None)}
    goal["holds"] = goal["min_ratio"] is not None and goal["min_ratio"] >= GOAL_RATIO
    data = {
        "benchmark": "ntk_gram: layerwise vs torch.func vmap(jacrev) recipe",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "torch": torch.__version__, "threads": threads,
                    "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "dgemm": {"n": DGEMM_N, "gflops_median": statistics.median(dgemms) if dgemms else None,
                  "gflops_min": min(dgemms, default=None), "gflops_max": max(dgemms, default=None),
                  "ours_fraction_median": statistics.median(fractions) if fractions else None},
        "settings": {"dtype": "float64", "d_in": D_IN, "activation": "ReLU", "output": "scalar",
                     "repeats": args.repeats, "single_call_timing_above_s": SLOW_S,
                     "skip_jacobian_gb": SKIP_GB, "warm_up": "one call on an 8-sample batch",
                     "memory": "peak RSS (VmHWM, reset before the call) minus RSS before the first call, "
                               "fresh subprocess each",
                     "time": "median of timed calls after the memory call (or that call alone when it "
                             "takes > single_call_timing_above_s), fresh subprocess each"},
        "goal": goal,
        "results": rows,
        "wall_time_s": time.perf_counter() - start,
    }
    _write_json(args.out, data)
    print(f"\nat n={GOAL_N}: recipe/ours = "
          + ", ".join(f"{k} {v:.1f}x" for k, v in goal["ratios"].items())
          + f" -> goal >= {GOAL_RATIO:g}x {'holds' if goal['holds'] else 'does NOT hold'}")
    if dgemms:
        print(f"dgemm {DGEMM_N}x{DGEMM_N}: {min(dgemms):.1f}-{max(dgemms):.1f} GFLOP/s across the run; ours "
              f"reaches {100 * min(fractions):.0f}-{100 * max(fractions):.0f}% of it "
              f"(median {100 * statistics.median(fractions):.0f}%)")
    print(f"load average after {data['machine']['load_average_after'][0]:.2f}; "
          f"wall time {data['wall_time_s']:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
