"""Benchmark: the explicit solution (counting included) against Adam, SGD and L-BFGS reaching its loss.

    python benchmarks/explicit.py [--quick] [--vocab 1000 3000 10000] [--cap 30] [--out PATH]

Williams & Zhao (2023) say computing the explicit solution costs about one pass over the data; this measures
how much wall time backpropagation needs to reach the *same training loss*, in the same run:

- LM: word-level Shakespeare (``netoptima.explicit.shakespeare_lm``), the first ``--tokens`` training tokens,
  K = 2 "sum" contexts, vocabularies ``--vocab``. Explicit = one streamed counting pass (``cooccurrence``;
  sparse counts when N² > 2^22, then U is filled with one log per non-zero) + the naive-Bayes formula into a
  dense float32 U (add-0.3 smoothing, the package default). Target = its training cross-entropy.
- MNIST: the 60,000 training images, explicit = ``feature_label_counts`` + ``classifier_solution``. Its
  cross-entropy (2.4 nats) is *worse* than the uniform predictor's (log 10 = 2.30: naive Bayes is
  over-confident), so the target there is its training **accuracy** (82.5%).
- Baselines start from zero weights (LM: uniform prediction; a random init starts higher) with
  Adam (lr ``ADAM_LR``), SGD (momentum 0.9, lr ``SGD_LR``), batch ``--batch``, and full-batch L-BFGS
  (``netoptima.explicit.lbfgs``, strong Wolfe, history 5, with the diagonal preconditioner of the package;
  skipped when it would need more than ``LBFGS_MAX_GB``). Minibatch methods are checked against the target
  every ``CHECK_S`` seconds of training (or less often when a check costs more); the checks are not timed.
  An optimizer that has not reached the target after ``--cap`` seconds of its own time is reported as
  "> cap", so the ratio is then a lower bound.
- The explicit time is the median of 5 calls (it is deterministic and takes milliseconds); the baselines'
  times come from one run each (long enough to be warm).
- One thread (``torch.set_num_threads(1)``) for everything; the load average is recorded before and after
  (the machine may be shared; other processes only ever add time).

Memory at a vocabulary of 50,000 (dense U is N x N per context block): U alone is 10 GB in float32 and Adam
needs 4x that (parameters, gradient, two moments) = 40 GB, so dense training does not fit a workstation.
The statistics and the explicit solution do not need U dense: ``cooccurrence(..., sparse=True)`` stores one
(row, column, count) triple per distinct pair (24 bytes; at most K·M pairs for M tokens) and
``sparse_explicit_solution`` keeps Δ = log(1 + F/s) with the same sparsity plus two length-N vectors. The
``sparse`` section measures this at a requested vocabulary of 50,000 (the training plays have 27,613 word types,
so the vocabulary is capped there):
time, pairs, bytes, and the held-out cross-entropy computed from the sparse solution.

Results go to ``benchmarks/results/explicit_bench.json`` (written atomically).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from netoptima.explicit import (
    SoftmaxClassifier,
    SoftmaxLM,
    accuracy,
    classifier_loss,
    classifier_solution,
    compress_contexts,
    context_windows,
    cooccurrence,
    explicit_solution,
    feature_label_counts,
    lbfgs,
    lm_loss,
    mnist01,
    shakespeare_lm,
    sparse_explicit_solution,
)
from netoptima.explicit.optimize import classifier_preconditioner, lm_preconditioner
from netoptima.sweep import atomic_write_json

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "explicit_bench.json"
K, AGG, SMOOTHING = 2, "sum", 0.3
# learning rates: the best of a 2-epoch probe at vocab 1000 (Adam 1e-2 / 3e-2; SGD 5 / 20 / 50 / 200, 200 diverged)
ADAM_LR, SGD_LR, MNIST_SGD_LR = 3e-2, 20.0, 0.5
CHECK_S = 0.05  # at least this much training between target checks (and at least as long as the last check took)
LBFGS_HISTORY, LBFGS_MAX_GB = 5, 2.0  # L-BFGS is skipped when its memory (U x (2·history + 4)) would exceed this
GOAL = 100.0


class Reached(Exception):
    """Raised inside an optimizer loop when the target (or the time cap) is hit."""


def minibatch_time(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, reached: Any, *,
                   optimizer: str, lr: float, batch: int, cap: float) -> dict[str, Any]:
    """Training seconds (checks excluded) until ``reached()`` is true, or None after ``cap`` seconds."""
    opt = (torch.optim.Adam(model.parameters(), lr=lr) if optimizer == "adam"
           else torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9))
    gen = torch.Generator().manual_seed(0)
    spent, since_check, steps, check_cost = 0.0, 0.0, 0, 0.0
    M = inputs.shape[0]
    while spent < cap:
        order = torch.randperm(M, generator=gen)
        for i in range(0, M, batch):
            t0 = time.perf_counter()
            idx = order[i: i + batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(inputs[idx]), targets[idx])
            loss.backward()
            opt.step()
            dt = time.perf_counter() - t0
            spent, since_check, steps = spent + dt, since_check + dt, steps + 1
            if not math.isfinite(float(loss.detach())):
                return {"seconds": None, "steps": steps, "diverged": True}
            if since_check >= max(CHECK_S, check_cost) or spent >= cap:
                since_check, c0 = 0.0, time.perf_counter()
                hit = reached()
                check_cost = time.perf_counter() - c0
                if hit:
                    return {"seconds": spent, "steps": steps, "epochs": steps * batch / M}
                if spent >= cap:
                    break
    return {"seconds": None, "steps": steps, "epochs": steps * batch / M, "cap": cap}


def lbfgs_time(model: torch.nn.Module, objective: Any, done: Any, *, scale: dict[str, torch.Tensor],
               cap: float) -> dict[str, Any]:
    """Wall seconds of preconditioned full-batch L-BFGS until ``done(loss)`` (every evaluation is timed)."""
    t0 = time.perf_counter()
    evals = 0

    def on_iter(e: int, loss: float) -> None:
        nonlocal evals
        evals = e
        if done(loss) or time.perf_counter() - t0 > cap:
            raise Reached

    try:
        lbfgs(model, objective, grad_tol=1e-12, max_iter=100_000, history=LBFGS_HISTORY, scale=scale, on_iter=on_iter)
    except Reached:
        pass
    seconds = time.perf_counter() - t0
    return {"seconds": seconds if seconds <= cap else None, "evaluations": evals, "cap": cap}


def bench_lm(vocab: int, tokens: int | None, batch: int, cap: float) -> dict[str, Any]:
    ids = shakespeare_lm(vocab, max_train_tokens=tokens)

    sparse = vocab**2 > 2**22  # dense counting (bincount-like) is faster for small U, sparse for large U

    def solve() -> torch.Tensor:
        Fc = cooccurrence(ids["train"], vocab, context=K, aggregate=AGG, sparse=sparse, dtype=torch.float32)
        return explicit_solution(Fc, context=K, aggregate=AGG, smoothing=SMOOTHING, dtype=torch.float32)

    t_explicit, U = median_time(solve)
    Fm = cooccurrence(ids["train"], vocab, context=K, aggregate=AGG)  # dense, for L-BFGS's preconditioner
    ctx, tgt = context_windows(ids["train"], K)
    data = compress_contexts(ctx, tgt, vocab, aggregate=AGG)
    target = lm_loss(SoftmaxLM(vocab, context=K, aggregate=AGG).load_solution(U), data)
    out: dict[str, Any] = {"vocab": vocab, "tokens": int(ids["train"].shape[0]), "contexts": data.contexts.shape[0],
                           "sparse_counts": sparse,
                           "explicit_seconds": t_explicit, "target_train_ce": target,
                           "uniform_ce": math.log(vocab)}
    for name, lr in (("adam", ADAM_LR), ("sgd", SGD_LR)):
        m = SoftmaxLM(vocab, context=K, aggregate=AGG)
        out[name] = minibatch_time(m, ctx, tgt, lambda m=m: lm_loss(m, data) <= target, optimizer=name, lr=lr,
                                   batch=batch, cap=cap)
    m = SoftmaxLM(vocab, context=K, aggregate=AGG)
    gb = m.U.numel() * 4 * (2 * LBFGS_HISTORY + 4) / 1e9
    if gb > LBFGS_MAX_GB:
        out["lbfgs"] = {"seconds": None, "cap": cap, "skipped": f"needs ~{gb:.1f} GB (> {LBFGS_MAX_GB} GB)"}
    else:
        out["lbfgs"] = lbfgs_time(m, lambda b: lm_loss(m, data, backward=b), lambda loss: loss <= target,
                                  scale={"U": lm_preconditioner(Fm, data.n_positions)}, cap=cap)
    print(f"  LM vocab {vocab}: explicit {t_explicit:.3f} s, target {target:.3f} nats; "
          + ", ".join(f"{n} {_fmt(out[n]['seconds'], cap)}" for n in ("adam", "sgd", "lbfgs")), flush=True)
    return out


def bench_mnist(batch: int, cap: float) -> dict[str, Any]:
    d = mnist01(None, None, source="full")
    x, y = d["x_train"], d["y_train"]
    def solve() -> tuple[torch.Tensor, torch.Tensor]:
        return classifier_solution(*feature_label_counts(x, y, 10), smoothing=1.0)

    t_explicit, (W, b) = median_time(solve)
    explicit = SoftmaxClassifier(784, 10).load_solution(W.float(), b.float())
    target = accuracy(explicit, x, y)
    out: dict[str, Any] = {"n": x.shape[0], "explicit_seconds": t_explicit, "target_train_acc": target,
                           "explicit_train_ce": classifier_loss(explicit, x, y)}
    for name, lr in (("adam", ADAM_LR), ("sgd", MNIST_SGD_LR)):
        m = SoftmaxClassifier(784, 10)
        out[name] = minibatch_time(m, x, y, lambda m=m: accuracy(m, x, y) >= target, optimizer=name, lr=lr,
                                   batch=batch, cap=cap)
    m = SoftmaxClassifier(784, 10)
    out["lbfgs"] = lbfgs_time(m, lambda bb: classifier_loss(m, x, y, backward=bb),
                              lambda loss: accuracy(m, x, y) >= target, scale=classifier_preconditioner(x, 10),
                              cap=cap)
    print(f"  MNIST: explicit {t_explicit:.3f} s, target train accuracy {target:.4f}; "
          + ", ".join(f"{k} {_fmt(out[k]['seconds'], cap)}" for k in ("adam", "sgd", "lbfgs")), flush=True)
    return out


def bench_sparse() -> dict[str, Any]:
    """Sparse statistics + sparse explicit solution at the full vocabulary; held-out CE from the sparse form."""
    ids = shakespeare_lm(50_000)  # the training plays have fewer word types: the vocabulary is capped there
    vocab = int(max(int(ids["train"].max()), int(ids["valid"].max())) + 1)
    t0 = time.perf_counter()
    Fs = cooccurrence(ids["train"], 50_000, context=K, aggregate=AGG, sparse=True)
    sol = sparse_explicit_solution(Fs, context=K, aggregate=AGG, smoothing=SMOOTHING)
    seconds = time.perf_counter() - t0
    nnz = Fs._nnz()
    vctx, vtgt = context_windows(ids["valid"], K)
    total = 0.0
    for i in range(0, vctx.shape[0], 2048):
        z = sol.logits(vctx[i: i + 2048])  # (b, 50k): unused ids (≥ vocab) are never targets
        total += float(F.cross_entropy(z[:, :vocab], vtgt[i: i + 2048], reduction="sum"))
    out = {"vocab_requested": 50_000, "word_types_plus_unk": vocab, "tokens": int(ids["train"].shape[0]),
           "seconds": seconds, "nnz": nnz, "stats_bytes": nnz * 24, "solution_bytes": nnz * 12 + 8 * 50_000 * 2,
           "dense_U_bytes_float32": 4 * 50_000**2, "valid_ce": total / vctx.shape[0]}
    print(f"  sparse, vocabulary {vocab}: {seconds:.2f} s, {nnz:,} pairs ({nnz * 24 / 1e6:.1f} MB) vs dense U "
          f"{4 * 50_000**2 / 1e9:.0f} GB; valid CE {out['valid_ce']:.3f} nats", flush=True)
    return out


def median_time(fn: Any, repeats: int = 5) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls of a short deterministic function, and its result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _fmt(seconds: float | None, cap: float) -> str:
    return f"> {cap:g} s" if seconds is None else f"{seconds:.2f} s"


def ratios(rec: dict[str, Any]) -> dict[str, str]:
    """Baseline time / explicit time per optimizer ('>' marks a lower bound: the cap was hit)."""
    out = {}
    for k in ("adam", "sgd", "lbfgs"):
        s = rec[k]["seconds"]
        if rec[k].get("skipped"):
            out[k] = "skipped"
        else:
            out[k] = (f"> {rec[k]['cap'] / rec['explicit_seconds']:.3g}" if s is None
                      else f"{s / rec['explicit_seconds']:.3g}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vocab", type=int, nargs="+", default=[1000, 3000, 10000])
    p.add_argument("--tokens", type=int, default=300_000, help="first training tokens (default 300k)")
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--cap", type=float, default=30.0, help="seconds per optimizer before giving up")
    p.add_argument("--quick", action="store_true", help="vocab 1000 only, cap 20 s, no sparse section")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = p.parse_args(argv)
    if a.quick:
        a.vocab, a.cap = [1000], 20.0
    torch.set_num_threads(1)
    load0 = os.getloadavg()
    print(f"explicit benchmark: vocab {a.vocab}, {a.tokens} tokens, cap {a.cap:g} s, load {load0[0]:.1f}",
          flush=True)
    lm = [bench_lm(v, a.tokens, a.batch, a.cap) for v in a.vocab]
    mn = bench_mnist(a.batch, a.cap)
    sparse = None if a.quick else bench_sparse()
    res = {"lm": [{**r, "ratio": ratios(r)} for r in lm], "mnist": {**mn, "ratio": ratios(mn)}, "sparse": sparse,
           "goal_ratio": GOAL, "settings": {"K": K, "aggregate": AGG, "smoothing": SMOOTHING, "adam_lr": ADAM_LR,
                                            "sgd_lr": SGD_LR, "mnist_sgd_lr": MNIST_SGD_LR, "batch": a.batch,
                                            "cap_s": a.cap, "check_every_s": CHECK_S, "threads": 1},
           "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                       "torch": torch.__version__, "cpus": os.cpu_count(), "load_before": load0,
                       "load_after": os.getloadavg()},
           "date": datetime.datetime.now().isoformat(timespec="seconds")}
    atomic_write_json(a.out, res)
    for r in res["lm"]:
        print(f"vocab {r['vocab']}: baseline / explicit = {r['ratio']}")
    print(f"MNIST: baseline / explicit = {res['mnist']['ratio']}\n-> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
