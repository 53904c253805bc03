"""Benchmark: one Gram-Gauss-Newton step vs a parameter-space Gauss-Newton step solved by conjugate gradient.

Both solve the same damped Gauss-Newton system on the same mini-batch (dynamics.md §2.1):

    GGN      Δ = −Jᵀ (J Jᵀ + λI)⁻¹ e      b × b Cholesky, the Gram from ntk_gram's layerwise identity
    GN-CG    (JᵀJ + λI) Δ = −Jᵀ e           CG in parameter space, matrix-free J v / Jᵀ u via torch.func.jvp/vjp

(curvlinops is not installed here, so the GN operator is the explicit torch.func one.) The two Δ agree up
to CG's tolerance (checked in float64); the timing is float32, one thread, same run. A second part times
training to a target loss on the digits regression task for GGN, SGD (momentum 0.9) and Adam.

Run: ``python benchmarks/ggn_step.py [--quick]``; writes ``benchmarks/results/dynamics_ggn_step.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, jvp, vjp

from netoptima.dynamics import GramGaussNewton
from netoptima.dynamics.data import regression_data
from netoptima.dynamics.experiments import regression_run
from netoptima.models import mlp
from netoptima.sweep import atomic_write_json

OUT = Path(__file__).parent / "results" / "dynamics_ggn_step.json"


def gn_cg_direction(model: nn.Module, X: Tensor, e: Tensor, damping: float, *, tol: float = 1e-10,
                    maxiter: int = 1000) -> tuple[Tensor, int]:
    """Solve (JᵀJ + λI) Δ = −Jᵀe by conjugate gradient with matrix-free J v and Jᵀ u (torch.func).

    Returns:
        The flat step Δ (#params,) and the number of CG iterations.
    """
    names = [k for k, p in model.named_parameters() if p.requires_grad]
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    shapes = [params[k].shape for k in names]
    sizes = [params[k].numel() for k in names]

    def f(p: dict[str, Tensor]) -> Tensor:
        return functional_call(model, p, (X,)).reshape(-1)  # (N,)

    def unflat(v: Tensor) -> dict[str, Tensor]:
        return {k: t.reshape(s) for k, t, s in zip(names, v.split(sizes), shapes, strict=True)}

    _, pullback = vjp(f, params)

    def JT(u: Tensor) -> Tensor:
        g = pullback(u)[0]
        return torch.cat([g[k].reshape(-1) for k in names])

    def A(v: Tensor) -> Tensor:
        Jv = jvp(f, (params,), (unflat(v),))[1]  # (N,)
        return JT(Jv) + damping * v

    b = -JT(e)
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rs = r @ r
    stop = tol * tol * rs
    it = 0
    while it < maxiter:
        it += 1
        Ap = A(p)
        alpha = rs / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rs_new = r @ r
        if rs_new <= stop:
            break
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x, it


def ggn_direction(model: nn.Module, X: Tensor, y: Tensor, damping: float) -> Tensor:
    """The GGN step Δ (lr 1) on the batch, via the optimizer itself; the model is restored afterwards."""
    before = [p.detach().clone() for p in model.parameters()]
    opt = GramGaussNewton(model.parameters(), lr=1.0, damping=damping, model=model)

    def closure() -> tuple[Tensor, Tensor]:
        f = model(X).squeeze(-1)
        return f, f - y

    opt.step(closure, inputs=X)
    delta = torch.cat([(p.detach() - b).reshape(-1) for p, b in zip(model.parameters(), before, strict=True)])
    with torch.no_grad():
        for p, b in zip(model.parameters(), before, strict=True):
            p.copy_(b)
    return delta


def best_time(fn: Any, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def step_benchmark(width: int, batch: int, damping: float, repeats: int) -> dict[str, Any]:
    X_all, y_all = regression_data("digits", dtype=torch.float64)
    X, y = X_all[:batch], y_all[:batch]
    torch.manual_seed(0)
    model = mlp([X.shape[1], width, width, 1], activation=nn.Tanh, dtype=torch.float64)
    e = (model(X).squeeze(-1) - y).detach()
    d_ggn = ggn_direction(model, X, y, damping)
    d_cg, iters = gn_cg_direction(model, X, e, damping)
    agreement = float((d_ggn - d_cg).norm() / d_ggn.norm())

    model32 = mlp([X.shape[1], width, width, 1], activation=nn.Tanh)
    model32.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
    X32, y32 = X.float(), y.float()
    e32 = (model32(X32).squeeze(-1) - y32).detach()
    t_ggn = best_time(lambda: ggn_direction(model32, X32, y32, damping), repeats)
    t_cg = best_time(lambda: gn_cg_direction(model32, X32, e32, damping, tol=1e-4), repeats)
    _, iters32 = gn_cg_direction(model32, X32, e32, damping, tol=1e-4)
    n_params = sum(p.numel() for p in model.parameters())
    return {"width": width, "batch": batch, "damping": damping, "params": n_params, "ggn_seconds": t_ggn,
            "gn_cg_seconds": t_cg, "ratio_cg_over_ggn": t_cg / t_ggn, "cg_iterations_float32_tol1e-4": iters32,
            "cg_iterations_float64_tol1e-10": iters, "relative_step_difference_float64": agreement}


def time_to_target(epochs: int, target: float) -> dict[str, Any]:
    run = regression_run({"task": "digits", "seed": 0, "epochs": epochs, "batch": 64, "width": 256,
                          "ggn_lr": 0.5, "ggn_damping": 1.0, "device": "cpu", "sgd_lrs": [0.1, 0.03, 0.01],
                          "adam_lrs": [3e-3, 1e-3]})
    out: dict[str, Any] = {"task": "digits (standardised label regression)", "target_mse": target, "epochs": epochs}
    for name in ("ggn", "sgd", "adam"):
        best = None
        for c in run["curves"]:
            if c["name"] != name or c["diverged"]:
                continue
            k = next((i for i, v in enumerate(c["loss"]) if v <= target), None)
            entry = {"lr": c["lr"], "final_mse": c["loss"][-1], "epochs_to_target": k,
                     "seconds_to_target": None if k is None else c["seconds"][k]}
            if best is None or (k is not None and (best["seconds_to_target"] is None
                                                   or entry["seconds_to_target"] < best["seconds_to_target"])):
                best = entry
        out[name] = best
    ggn_t = out["ggn"]["seconds_to_target"] if out["ggn"] else None
    for name in ("sgd", "adam"):
        other = out[name]["seconds_to_target"] if out[name] else None
        out[f"time_ratio_{name}_over_ggn"] = None if ggn_t is None or other is None else other / ggn_t
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and epochs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    repeats = 3 if args.quick else 10
    steps = [step_benchmark(w, b, lam, repeats) for w, b in [(256, 64), (1024, 64), (256, 256)]
             for lam in (1.0, 1e-3)]
    result = {"benchmark": "GGN step vs parameter-space GN-CG (torch.func), and time to target loss",
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg": os.getloadavg(),
                          "torch": torch.__version__, "threads": torch.get_num_threads()},
              "steps": steps, "time_to_target": time_to_target(10 if args.quick else 20, 0.05)}
    atomic_write_json(OUT, result)
    for s in steps:
        print(f"m={s['width']:5d} b={s['batch']:3d} λ={s['damping']:g}: GGN {s['ggn_seconds'] * 1e3:7.2f} ms, "
              f"GN-CG {s['gn_cg_seconds'] * 1e3:8.2f} ms ({s['cg_iterations_float32_tol1e-4']} it) -> "
              f"×{s['ratio_cg_over_ggn']:.1f}; step difference {s['relative_step_difference_float64']:.1e}")
    tt = result["time_to_target"]
    def fmt(entry: dict[str, Any] | None) -> str:
        return "-" if entry is None or entry["seconds_to_target"] is None else f"{entry['seconds_to_target']:.2f}"

    print(f"time to MSE {tt['target_mse']}: " + ", ".join(f"{k} {fmt(tt[k])} s" for k in ("ggn", "sgd", "adam")))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
