"""Benchmark: the over-parametrized certificate (``netoptima.certify``, squared loss) against one ``ntk_gram`` call.

    python benchmarks/certify.py [--n 512] [--width 1024] [--depth 3] [--repeats 3] [--threads 1] [--out PATH]

Model: float64 ReLU MLP ``mlp([128, w, …, w, 1])`` with ``depth`` Linear layers (the convention of
``benchmarks/ntk_gram.py``), n random unit-norm inputs, Gaussian targets. The certificate costs one forward pass,
one ``ntk_gram`` and one n×n ``eigvalsh``; the goal is at most 2× one ``ntk_gram`` call.

Both are measured in this process, on the same model and data, after a warm-up on 8 samples, alternating
(gram, certify) ``--repeats`` times so that both see the same machine state; the ratio is of the medians (the
minima are stored too: other processes only ever add time). The certificate's parts (forward, eigvalsh) are
timed separately. The load average before and after is recorded. Writes ``benchmarks/results/certify.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from netoptima.certification import certify
from netoptima.conventions import torch_threads
from netoptima.models import mlp
from netoptima.ntk import ntk_gram

D_IN = 128
GOAL_RATIO = 2.0
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "certify.json"


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = p.parse_args()
    load_before = os.getloadavg()
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = mlp([D_IN] + [a.width] * (a.depth - 1) + [1], dtype=torch.float64)
    X = torch.randn(a.n, D_IN, generator=g, dtype=torch.float64)
    X = X / X.norm(dim=1, keepdim=True)
    y = torch.randn(a.n, generator=g, dtype=torch.float64)
    with torch_threads(a.threads):
        ntk_gram(model, X[:8])  # warm-up
        certify(model, X[:8], y[:8])
        gram_s, cert_s = [], []
        cert = None
        for _ in range(a.repeats):
            gram_s.append(_timed(lambda: ntk_gram(model, X)))
            t0 = time.perf_counter()
            cert = certify(model, X, y)
            cert_s.append(time.perf_counter() - t0)
        with torch.no_grad():
            forward_s = _timed(lambda: model(X))
        G = ntk_gram(model, X)
        eig_s = _timed(lambda: torch.linalg.eigvalsh(G))
    ratio = statistics.median(cert_s) / statistics.median(gram_s)
    result = {
        "benchmark": "certify_vs_ntk_gram",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "threads": a.threads, "load_before": load_before, "load_after": os.getloadavg()},
        "config": {"n": a.n, "width": a.width, "depth": a.depth, "d_in": D_IN, "dtype": "float64",
                   "parameters": sum(p.numel() for p in model.parameters()), "repeats": a.repeats},
        "ntk_gram_s": gram_s, "certify_s": cert_s, "forward_s": forward_s, "eigvalsh_s": eig_s,
        "ratio_median": ratio, "ratio_min": min(cert_s) / min(gram_s), "goal_ratio": GOAL_RATIO,
        "goal_met": ratio <= GOAL_RATIO,
        "certificate": {"objective": cert.objective, "certified": cert.certified,
                        "lambda_min": cert.details["lambda_min"], "pl_bound": cert.details["pl_bound"]},
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2))
    print(f"depth {a.depth}, width {a.width}, n {a.n}, {a.threads} thread(s): ntk_gram median "
          f"{statistics.median(gram_s):.3f} s, certify median {statistics.median(cert_s):.3f} s "
          f"(forward {forward_s:.3f} s, eigvalsh {eig_s:.3f} s); ratio {ratio:.2f} (min/min "
          f"{result['ratio_min']:.2f}; goal <= {GOAL_RATIO:g}) -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
