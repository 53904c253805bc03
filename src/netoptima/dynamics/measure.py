"""Pure measurements the dynamics judges use: run plans from the spectrum of H∞, rate and slope fits, shapes.

Everything here is deterministic NumPy on recorded data (no I/O, no training), except :func:`spectrum`, which
the claims' ``run`` functions call to plan their runs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from netoptima.claims import loglog_slope
from netoptima.dynamics.ode import hb_gamma, kappa_hb, ode_time
from netoptima.dynamics.train import fit_exponential_rate, fit_power_exponent

__all__ = ["compare_ggn_sgd", "fits_exponential_better", "floors_vs_lr", "hb_rates", "nag_slopes",
           "notebook_hb_slopes", "notebook_nag_slopes", "quadratic_stats", "spectrum", "theory_plan", "u_shape",
           "verdict_of", "width_slope"]

HB_CRITICAL_BETA = 0.9  # η is set so that this β critically damps the slowest mode of H∞: γ = 2√λ0


def spectrum(n: int) -> tuple[float, float]:
    """(λ_min, λ_max) of H∞ on the first n theory points (loads the data: for ``run``, not for judges)."""
    from netoptima.dynamics.data import theory_data
    from netoptima.ntk import relu_ntk_infinite

    X, _ = theory_data(n)
    lam = np.linalg.eigvalsh(relu_ntk_infinite(X).numpy())
    return float(lam[0]), float(lam[-1])


def theory_plan(method: str, lam0: float, lam_max: float, *, horizon: float, nag_lr: float = 0.2) -> dict[str, Any]:
    """Learning rate and steps of one theory run: the same numbers for every claim, so identical runs share one
    record.

    GD: η = 1/λ_max over ODE time horizon/λ0. HB: η such that β = 0.9 critically damps the slowest mode
    (γ = (1 − β)/√η = 2√λ0), over horizon/√λ0. NAG: η = nag_lr/λ_max over horizon/√λ0.
    """
    if method == "gd":
        lr, t_end = 1 / lam_max, horizon / lam0
    elif method == "hb":
        lr, t_end = ((1 - HB_CRITICAL_BETA) / (2 * math.sqrt(lam0))) ** 2, horizon / math.sqrt(lam0)
    else:
        lr, t_end = nag_lr / lam_max, horizon / math.sqrt(lam0)
    return {"lr": lr, "steps": int(math.ceil(t_end / float(ode_time(1, lr, method))))}


def _window(run: dict[str, Any], method: str, lo: float, hi: float,
            key: str = "loss") -> tuple[np.ndarray, np.ndarray]:
    t = ode_time(np.arange(len(run["loss"])), run["lr"], method)
    w = (t >= lo) & (t <= hi)
    return t[w], np.asarray(run[key])[w]


def fits_exponential_better(t: np.ndarray, loss: np.ndarray) -> bool:
    """Model selection between linear convergence and a power law: does ln loss fit a line in t (exp(−ρt))
    with a smaller residual than a line in ln t (t^-p)? Threshold-free: the better of the two hypotheses."""
    y = np.log(loss)
    res_exp = np.sum((y - np.polyval(np.polyfit(t, y, 1), t)) ** 2)
    res_pow = np.sum((y - np.polyval(np.polyfit(np.log(t), y, 1), np.log(t))) ** 2)
    return bool(res_exp < res_pow)


def hb_rates(run: dict[str, Any]) -> dict[str, float]:
    """Loss decay rates per unit ODE time of a GD / HB theory run over [T/4, T] (T its last ODE time).

    ``rate`` is fitted over [T/2, T], ``early`` over [T/4, T/2]; for linear convergence late/early = 1, for any
    power law t^-p exactly 1/2 (the windows span the same factor 2). ``theory`` is the asymptotic 2λ0 (GD flow)
    or 2κ_HB(γ) (heavy ball, the eigenvalues of H∞); ``ode_rate`` the H∞ ODE's rate over the same window.
    """
    method = "hb" if run.get("momentum") is not None else "gd"
    T = float(ode_time(len(run["loss"]) - 1, run["lr"], method))
    t, loss = _window(run, method, T / 2, T)
    te, le = _window(run, method, T / 4, T / 2)
    tw, lw = _window(run, method, T / 4, T)
    ode, lin = _window(run, method, T / 2, T, "ode_loss")[1], _window(run, method, T / 2, T, "lin_loss")[1]
    eig = np.asarray(run["eig_inf"])
    theory = 2 * eig[0] if method == "gd" else 2 * kappa_hb(eig, hb_gamma(run["lr"], run["momentum"]))
    rate, early = fit_exponential_rate(t, loss), fit_exponential_rate(te, le)
    ode_rate, lin_rate = fit_exponential_rate(t, ode), fit_exponential_rate(t, lin)
    return {"rate": rate, "early": early, "linearity": rate / early if early > 0 else math.nan,
            "exp_better": fits_exponential_better(tw, lw), "lin_rate": lin_rate, "lin_ratio": rate / lin_rate,
            "ode_rate": ode_rate, "ode_ratio": rate / ode_rate, "theory": theory, "ratio": rate / theory}


def nag_slopes(run: dict[str, Any], lo: float, hi: float) -> dict[str, float]:
    """Log-log slopes of a NAG run's loss (and of its Bessel ODE) over ODE times [lo, hi]."""
    t, loss = _window(run, "nag", lo, hi)
    ode = _window(run, "nag", lo, hi, "ode_loss")[1]
    return {"slope": fit_power_exponent(t, loss), "ode_slope": fit_power_exponent(t, ode)}


def width_slope(runs: list[dict[str, Any]], key: str) -> float:
    """Log-log slope of ``key`` against the width over the runs (all seeds)."""
    if len({r["width"] for r in runs}) < 2:
        return math.nan
    return loglog_slope([r["width"] for r in runs], [r[key] for r in runs])


def u_shape(curve: dict[int, float], margin: float) -> dict[str, Any]:
    """Is the loss-vs-width curve U-shaped: an interior minimum with both ends ≥ ``margin`` × the minimum?"""
    w = sorted(curve)
    vals = [curve[m] for m in w]
    i = int(np.argmin(vals))
    u = 0 < i < len(w) - 1 and vals[0] >= margin * vals[i] and vals[-1] >= margin * vals[i]
    return {"u_shaped": bool(u), "argmin": w[i], "min": vals[i], "left": vals[0], "right": vals[-1]}


def quadratic_stats(res: list[float], floor: float, *, start: int = 0) -> dict[str, Any]:
    """Orders p_t = log(r_{t+1}/r_t)/log(r_t/r_{t−1}) and ratios r_{t+1}/r_t² over the steps t ≥ ``start`` whose
    next residual is above ``floor`` × r_0 (float64 rounding below it)."""
    r = np.asarray(res)
    ok = r > floor * r[0]
    last = int(np.flatnonzero(ok)[-1])  # last index above the floor
    ratios = [float(r[t + 1] / r[t] ** 2) for t in range(start, last)]
    orders = [float(np.log(r[t + 1] / r[t]) / np.log(r[t] / r[t - 1])) for t in range(start + 1, last)
              if r[t] < r[t - 1] and r[t + 1] < r[t]]
    return {"ratios": ratios, "orders": orders,
            "ratio_growth": max(ratios) / min(ratios) if ratios else math.nan}


def _first_reach(loss: list[float], target: float) -> int | None:
    return next((k for k, v in enumerate(loss) if v <= target), None)


def compare_ggn_sgd(curves: list[dict[str, Any]]) -> dict[str, Any]:
    """GGN against the best (lowest final loss) SGD setting: losses, epochs and time to SGD's final loss."""
    ggn = next(c for c in curves if c["name"] == "ggn")
    sgd = [c for c in curves if c["name"] == "sgd" and not c["diverged"]]
    if not sgd or ggn["diverged"]:
        return {"ok": False}
    best = min(sgd, key=lambda c: c["loss"][-1])
    target = best["loss"][-1]
    k_ggn, k_sgd = _first_reach(ggn["loss"], target), _first_reach(best["loss"], target)
    return {"ok": True, "sgd_lr": best["lr"], "sgd_final": target, "ggn_final": ggn["loss"][-1],
            "ggn_epochs": k_ggn, "sgd_epochs": k_sgd,
            "ggn_seconds": None if k_ggn is None else ggn["seconds"][k_ggn], "sgd_seconds": best["seconds"][k_sgd]}


def verdict_of(full: bool, part: bool) -> str:
    """'reproduced' when the full rule holds, 'partly' when only its weaker part does, else 'not reproduced'."""
    return "reproduced" if full else ("partly" if part else "not reproduced")


def floors_vs_lr(runs: list[dict[str, Any]], n: int, factors: tuple[float, ...]) -> dict[str, dict[str, Any]]:
    """Sanity check of the time map (our recursion against our ODE, loads the data: for ``run``): the
    discretisation floor at η·factors over the same ODE horizon, from the widest run's e0 per method (HB keeps
    its friction γ fixed), and its log-log slope in η."""
    from netoptima.dynamics.data import theory_data
    from netoptima.dynamics.ode import discretization_gap
    from netoptima.ntk import relu_ntk_infinite

    X, _ = theory_data(n)
    Hinf = relu_ntk_infinite(X).numpy()
    out = {}
    for method in ("gd", "hb", "nag"):
        big = max((r for r in runs if r["method"] == method), key=lambda r: r["width"])
        horizon = float(ode_time(big["steps"], big["lr"], method))
        lrs, floors = [], []
        for f in factors:
            lr, hyper = big["lr"] * f, {k: big[k] for k in ("momentum", "r") if k in big}
            if method == "hb":  # same friction γ: β = 1 − γ√η
                hyper["momentum"] = 1 - hb_gamma(big["lr"], big["momentum"]) * math.sqrt(lr)
            lrs.append(lr)
            floors.append(discretization_gap(method, Hinf, np.asarray(big["e0"]), lr, horizon, **hyper))
        out[method] = {"lr": lrs, "floor": floors, "slope": loglog_slope(lrs, floors)}
    return out


def notebook_hb_slopes(runs: list[dict[str, Any]], printed: dict[float, Any]) -> dict[float, float | None]:
    """log10-loss slope per epoch of each notebook HB run over its printed window (least squares)."""
    out: dict[float, float | None] = {}
    for r in runs:
        if r["momentum"] in printed:
            (a, b), _ = printed[r["momentum"]]
            vals = np.asarray(r["loss"][a - 1:b])
            ok = len(vals) == b - a + 1 and (vals > 0).all()
            out[r["momentum"]] = float(np.polyfit(np.arange(a, b + 1), np.log10(vals), 1)[0]) if ok else None
    return out


def notebook_nag_slopes(runs: list[dict[str, Any]]) -> dict[float, float | None]:
    """Two-point log-log slope of each notebook NAG run's loss between epochs 1000 and 5000."""
    out: dict[float, float | None] = {}
    for r in runs:
        loss = r["loss"]
        ok = len(loss) >= 5000 and loss[999] > 0 and loss[4999] > 0
        out[r["r"]] = math.log(loss[4999] / loss[999]) / math.log(5) if ok else None
    return out
