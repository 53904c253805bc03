"""Limiting ODEs of GD, heavy ball and Nesterov in prediction space (dynamics.md §1.2-1.3).

In the NTK regime the prediction error e = u − y of a wide two-layer net follows the optimizer's ODE on
the strongly convex quadratic F(e) = ½ eᵀHe, with H = H∞ (or the empirical H(0)):

    GD   ė = −He                                  e(t) = exp(−Ht) e0
    HB   ë + γė + He = 0,        γ = (1−β)/√η     per eigenmode a damped oscillator (rate κ_HB(γ))
    NAG  ë + (r/t)ė + He = 0                      per eigenmode Γ(ν+1)(2/(√λ t))^ν J_ν(√λ t), ν=(r−1)/2

with e(0) = e0 and ė(0) = 0. Discrete step k maps to ODE time t = kη for GD and t = k√η for the momentum
methods (:func:`ode_time`, used everywhere). Everything here is float64 NumPy: the closed forms act in the
eigenbasis of H, :func:`integrate_error_ode` integrates the full vector ODE numerically (the oracle the
closed forms are tested against) and :func:`linearized_error` runs the exact discrete recursion of the
linearised model (what the optimizer would do on the kernel regression problem with a fixed H).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special
from scipy.integrate import solve_ivp

from netoptima.conventions import check_choice, check_int, check_memory, check_positive, check_real

__all__ = [
    "METHODS", "discretization_gap", "gd_error", "hb_error", "hb_gamma", "integrate_error_ode", "kappa_hb",
    "linearized_error",
    "loss_of_error", "nag_error", "nag_momentum", "ode_time", "predicted_error",
]

METHODS = ("gd", "hb", "nag")
# Largest (fastest rate × horizon) integrate_error_ode accepts: ~10 s of DOP853 steps at 1e-12 tolerance.
MAX_ODE_WORK = 1e6


def _as_matrix(H: Any) -> np.ndarray:
    """H as a symmetric float64 (n, n) array (torch tensors accepted)."""
    H = np.asarray(H.detach().cpu() if hasattr(H, "detach") else H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] == 0:
        raise ValueError(f"H must be a square (n, n) matrix, got shape {H.shape}")
    if not np.isfinite(H).all():
        raise ValueError("H must be finite, got NaN or infinite entries")
    scale = max(np.abs(H).max(), 1e-300)
    if np.abs(H - H.T).max() > 1e-8 * scale:
        raise ValueError("H must be symmetric (a Gram matrix), got an asymmetric matrix")
    return (H + H.T) / 2


def _as_vector(e0: Any, n: int) -> np.ndarray:
    e0 = np.asarray(e0.detach().cpu() if hasattr(e0, "detach") else e0, dtype=np.float64).reshape(-1)
    if e0.shape != (n,) or not np.isfinite(e0).all():
        raise ValueError(f"e0 must be a finite vector of length {n} (one error per sample), got shape {e0.shape}")
    return e0


def _as_times(t: Any) -> np.ndarray:
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if t.ndim != 1 or not np.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"t must be a 1-D array of finite times >= 0, got {t!r}")
    return t


def _eig(H: np.ndarray, e0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues λ (clipped at 0: H is PSD up to rounding), eigenvectors V and coordinates c = Vᵀe0."""
    lam, V = np.linalg.eigh(H)
    if lam[0] < -1e-8 * max(abs(lam[-1]), 1.0):
        raise ValueError(f"H must be positive semi-definite, got smallest eigenvalue {lam[0]:.3g}")
    return np.clip(lam, 0.0, None), V, V.T @ e0


def ode_time(steps: Any, lr: float, method: str) -> np.ndarray:
    """The map from discrete steps k to ODE time: t = kη for GD, t = k√η for HB and NAG (dynamics.md §1.2).

    Arguments:
        steps: step counts k ≥ 0 (scalar or array).
        lr: learning rate η > 0.
        method: ``"gd"``, ``"hb"`` or ``"nag"``.

    Returns:
        float64 array of ODE times, same shape as ``steps``.
    """
    lr = check_positive("lr", lr)
    check_choice("method", method, METHODS)
    k = np.asarray(steps, dtype=np.float64)
    if not np.isfinite(k).all() or (k < 0).any():
        raise ValueError(f"steps must be finite and >= 0, got {steps!r}")
    with np.errstate(over="ignore"):
        t = k * (lr if method == "gd" else math.sqrt(lr))
    if not np.isfinite(t).all():
        raise ValueError(f"steps × lr overflows float64 (steps up to {k.max():g}, lr {lr:g})")
    return t


def hb_gamma(lr: float, momentum: float) -> float:
    """Friction of the heavy-ball ODE, γ = (1 − β)/√η (dynamics.md §1.2)."""
    lr = check_positive("lr", lr)
    momentum = check_real("momentum", momentum, low=0.0, high=1.0)
    if momentum >= 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    return (1.0 - momentum) / math.sqrt(lr)


def nag_momentum(k: int, r: float) -> float:
    """Nesterov momentum at step k = 1, 2, … : (k − 1)/(k + r − 1) (the notebook's schedule, r = its "d")."""
    k = check_int("k", k, low=1)
    r = check_positive("r", r)
    return (k - 1) / (k + r - 1)


def kappa_hb(eigvals: Any, gamma: float) -> float:
    """Amplitude decay rate of the HB ODE, κ_HB(γ) = min_i (γ − Re √(γ² − 4λ_i))/2 (dynamics.md §1.3).

    Arguments:
        eigvals: eigenvalues λ_i ≥ 0 of H (or H itself, a square matrix).
        gamma: friction γ > 0.

    Returns:
        κ_HB; ‖e(t)‖ decays like exp(−κ_HB t), the loss like exp(−2κ_HB t).
    """
    gamma = check_positive("gamma", gamma)
    try:
        lam = np.asarray(eigvals, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"eigvals must be real eigenvalues or a square matrix, got {type(eigvals).__name__}") from None
    if lam.ndim == 2:
        lam = np.linalg.eigvalsh(_as_matrix(lam))
    lam = lam.reshape(-1)
    if lam.size == 0 or not np.isfinite(lam).all():
        raise ValueError(f"eigvals must be a non-empty array of finite eigenvalues, got {lam!r}")
    if lam.min() < -1e-8 * max(abs(lam.max()), 1.0):
        raise ValueError(f"eigvals must be >= 0 (H positive semi-definite), got smallest eigenvalue {lam.min():.3g}")
    lam = np.clip(lam, 0.0, None)
    disc = np.sqrt((gamma**2 - 4 * lam).astype(complex)).real  # (n,) 0 in the underdamped modes
    return float(np.min((gamma - disc) / 2))


def gd_error(H: Any, e0: Any, t: Any) -> np.ndarray:
    """GD flow in prediction space, e(t) = exp(−Ht) e0 (Du et al.; dynamics.md §1.3).

    Arguments:
        H: (n, n) symmetric PSD kernel (H∞ or H(0)).
        e0: (n,) initial error u(0) − y.
        t: (T,) ODE times ≥ 0.

    Returns:
        (T, n) float64 errors.
    """
    H = _as_matrix(H)
    lam, V, c = _eig(H, _as_vector(e0, H.shape[0]))
    t = _as_times(t)
    return (np.exp(-np.outer(t, lam)) * c) @ V.T  # (T, n)


def _hb_modes(lam: np.ndarray, t: np.ndarray, gamma: float) -> np.ndarray:
    """Solution factor of ë + γė + λe = 0, e(0) = 1, ė(0) = 0, for every (t, λ): shape (T, n).

    With q = γ²/4 − λ the solution is e^{−γt/2}(cosh(st) + (γ/2) sinh(st)/s), s = √q, written so that
    it neither overflows (overdamped: factor out e^{(s−γ/2)t}) nor cancels (critical: sinh(st)/s → t).
    """
    T, L = np.meshgrid(t, lam, indexing="ij")  # (T, n)
    q = gamma**2 / 4 - L
    out = np.empty_like(T)
    over = q > 0
    if over.any():
        s, tt = np.sqrt(q[over]), T[over]
        lead = np.exp((s - gamma / 2) * tt)  # the slow root, ≤ 1
        tail = np.exp(-2 * s * tt)
        sinh_over_s = np.where(s * tt > 0, -np.expm1(-2 * s * tt) / (2 * np.where(s > 0, s, 1.0)), tt)
        out[over] = lead * ((1 + tail) / 2 + (gamma / 2) * sinh_over_s)
    under = ~over
    if under.any():
        w, tt = np.sqrt(-q[under]), T[under]
        sin_over_w = tt * np.sinc(w * tt / np.pi)  # sin(wt)/w, = t at w = 0 (critical damping)
        out[under] = np.exp(-gamma * tt / 2) * (np.cos(w * tt) + (gamma / 2) * sin_over_w)
    return out


def hb_error(H: Any, e0: Any, t: Any, *, gamma: float) -> np.ndarray:
    """Heavy-ball ODE ë + γė + He = 0 in prediction space, closed form per eigenmode (dynamics.md §1.3).

    Arguments:
        H: (n, n) symmetric PSD kernel.
        e0: (n,) initial error; the ODE starts at rest, ė(0) = 0.
        t: (T,) ODE times ≥ 0.
        gamma: friction γ = (1 − β)/√η > 0 (see :func:`hb_gamma`).

    Returns:
        (T, n) float64 errors.
    """
    gamma = check_positive("gamma", gamma)
    H = _as_matrix(H)
    lam, V, c = _eig(H, _as_vector(e0, H.shape[0]))
    return (_hb_modes(lam, _as_times(t), gamma) * c) @ V.T  # (T, n)


def _nag_modes(lam: np.ndarray, t: np.ndarray, r: float) -> np.ndarray:
    """Γ(ν+1)(2/z)^ν J_ν(z) with z = √λ t, ν = (r−1)/2, i.e. ₀F₁(; ν+1; −z²/4): shape (T, n).

    ₀F₁ is the same function without the (2/z)^ν factor, so it is exact at z = 0 (value 1).
    """
    x = -np.outer(t * t, lam) / 4  # (T, n) = −z²/4
    return special.hyp0f1((r + 1) / 2, x)


def nag_error(H: Any, e0: Any, t: Any, *, r: float) -> np.ndarray:
    """Nesterov ODE ë + (r/t)ė + He = 0 in prediction space: the Bessel closed form (dynamics.md §1.3).

    e_i(t) = e0_i Γ(ν+1) (2/(√λ_i t))^ν J_ν(√λ_i t), ν = (r − 1)/2, in the eigenbasis of H; the loss
    decays like t^{−r} (polynomially) with a constant that grows like λ_min^{−r/2}.

    Arguments:
        H: (n, n) symmetric PSD kernel.
        e0: (n,) initial error; ė(0) = 0.
        t: (T,) ODE times ≥ 0.
        r: the damping constant r > 0 of the momentum (k − 1)/(k + r − 1).

    Returns:
        (T, n) float64 errors.
    """
    r = check_positive("r", r)
    H = _as_matrix(H)
    lam, V, c = _eig(H, _as_vector(e0, H.shape[0]))
    return (_nag_modes(lam, _as_times(t), r) * c) @ V.T  # (T, n)


def integrate_error_ode(H: Any, e0: Any, t: Any, *, method: str, gamma: float | None = None,
                        r: float | None = None, rtol: float = 1e-12, atol: float = 1e-14) -> np.ndarray:
    """Numerical integration of the prediction-space ODE in the original basis (the closed forms' oracle).

    Uses SciPy's DOP853 on the first-order system (e, ė). NAG's damping r/t is singular at t = 0, so the
    integration starts at t0 = 1e-6/√λ_max from the series e(t0) = (1 − Ht0²/(2(r+1))) e0, ė(t0) =
    −Ht0 e0/(r+1), whose neglected O(t0⁴) terms are far below the integration tolerance.

    Arguments:
        H: (n, n) symmetric PSD kernel.
        e0: (n,) initial error; ė(0) = 0.
        t: (T,) increasing ODE times ≥ 0.
        method: ``"gd"``, ``"hb"`` (needs ``gamma``) or ``"nag"`` (needs ``r``).
        rtol, atol: integration tolerances.

    Raises:
        ValueError: bad H, e0, t, method, gamma or r; or a problem too stiff for the explicit integrator
            (fastest rate × horizon above ``MAX_ODE_WORK``), which would otherwise run for hours.

    Returns:
        (T, n) float64 errors.
    """
    check_choice("method", method, METHODS)
    H = _as_matrix(H)
    e0 = _as_vector(e0, H.shape[0])
    t = _as_times(t)
    if t.size == 0 or (np.diff(t) < 0).any():
        raise ValueError(f"t must be a non-empty non-decreasing array of times, got {t!r}")
    n = H.shape[0]
    if t[-1] == 0:  # nothing to integrate: every requested time is the start
        return np.tile(e0, (t.size, 1))
    # DOP853 is explicit: its step count grows like (fastest rate) × (horizon); refuse what would run for hours
    lam_top = float(np.abs(np.linalg.eigvalsh(H)).max())
    work = float(t[-1]) * max(lam_top, math.sqrt(lam_top))
    if method == "hb" and gamma is not None:
        work = max(work, float(t[-1]) * check_positive("gamma", gamma))
    if method == "nag" and r is not None:
        work = max(work, check_positive("r", r) * math.log1p(float(t[-1]) * 1e6 * math.sqrt(max(lam_top, 1e-12))))
    if work > MAX_ODE_WORK:
        raise ValueError(f"the ODE is too stiff for the explicit integrator over t <= {t[-1]:g} (rate × horizon "
                         f"{work:.3g} > {MAX_ODE_WORK:g}, e.g. λ_max(H) = {lam_top:.3g}); shorten t or use the closed "
                         "forms gd_error / hb_error / nag_error")
    if method == "gd":
        sol = solve_ivp(lambda _, e: -H @ e, (0.0, float(t[-1])), e0, method="DOP853", t_eval=t,
                        rtol=rtol, atol=atol)
        return sol.y.T
    if method == "hb":
        if gamma is None:
            raise ValueError("method 'hb' needs gamma (the friction (1 − β)/√η)")
        gamma = check_positive("gamma", gamma)
        t0, y0 = 0.0, np.concatenate([e0, np.zeros(n)])

        def rhs(s: float, z: np.ndarray) -> np.ndarray:
            return np.concatenate([z[n:], -gamma * z[n:] - H @ z[:n]])
    else:
        if r is None:
            raise ValueError("method 'nag' needs r (the damping constant of (k − 1)/(k + r − 1))")
        r = check_positive("r", r)
        lam_max = max(float(np.linalg.eigvalsh(H)[-1]), 1e-12)
        t0 = 1e-6 / math.sqrt(lam_max)
        He0 = H @ e0
        y0 = np.concatenate([e0 - He0 * t0**2 / (2 * (r + 1)), -He0 * t0 / (r + 1)])

        def rhs(s: float, z: np.ndarray) -> np.ndarray:
            return np.concatenate([z[n:], -(r / s) * z[n:] - H @ z[:n]])
    out = np.empty((t.size, n))
    early = t <= t0
    out[early] = e0  # the ODE has not moved at t ≤ t0 (to O(t0²))
    if (~early).any():
        sol = solve_ivp(rhs, (t0, float(t[-1])), y0, method="DOP853", t_eval=t[~early], rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"ODE integration failed: {sol.message}")
        out[~early] = sol.y[:n].T
    return out


def _check_hyper(method: str, momentum: float | None, r: float | None) -> tuple[float, float]:
    if method == "hb":
        if momentum is None:
            raise ValueError("method 'hb' needs momentum β in [0, 1)")
        momentum = check_real("momentum", momentum, low=0.0, high=1.0)
        if momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        return momentum, 0.0
    if method == "nag":
        if r is None:
            raise ValueError("method 'nag' needs r > 0")
        return 0.0, check_positive("r", r)
    return 0.0, 0.0


def predicted_error(method: str, H: Any, e0: Any, steps: Any, lr: float, *, momentum: float | None = None,
                    r: float | None = None) -> np.ndarray:
    """The limiting-ODE prediction of the error after k discrete steps: closed form at t = ode_time(k).

    Arguments:
        method: ``"gd"``, ``"hb"`` (needs ``momentum``) or ``"nag"`` (needs ``r``).
        H: (n, n) kernel (H∞ for the infinite-width prediction, H(0) for the empirical one).
        e0: (n,) initial error.
        steps: (T,) step counts k ≥ 0.
        lr: learning rate η.

    Returns:
        (T, n) predicted errors.
    """
    check_choice("method", method, METHODS)
    momentum, r = _check_hyper(method, momentum, r)
    t = ode_time(steps, lr, method)
    if method == "gd":
        return gd_error(H, e0, t)
    if method == "hb":
        return hb_error(H, e0, t, gamma=hb_gamma(lr, momentum))
    return nag_error(H, e0, t, r=r)


def linearized_error(method: str, H: Any, e0: Any, steps: int, lr: float, *, momentum: float | None = None,
                     r: float | None = None) -> np.ndarray:
    """The optimizer's exact discrete iterates on the linearised model u = u0 + J(w − w0), J Jᵀ = H.

    In prediction space, with q the momentum buffer mapped through J (PyTorch conventions, as the
    optimizers of :mod:`netoptima.dynamics.optim`):

        GD   e ← e − η H e
        HB   q ← β q + H e;            e ← e − η q
        NAG  q ← μ_k q + H e;          e ← e − η (H e + μ_k q),   μ_k = (k − 1)/(k + r − 1)
             (q is first updated at k = 2: the k = 1 step, with μ_1 = 0, is a plain gradient step)

    Arguments:
        method: ``"gd"``, ``"hb"`` or ``"nag"``.
        H: (n, n) kernel; e0: (n,) initial error; steps: number of updates K ≥ 0; lr: η.

    Returns:
        (K + 1, n) errors after 0, 1, …, K updates.
    """
    check_choice("method", method, METHODS)
    momentum, r = _check_hyper(method, momentum, r)
    steps = check_int("steps", steps, low=0)
    lr = check_positive("lr", lr)
    H = _as_matrix(H)
    e = _as_vector(e0, H.shape[0]).copy()
    check_memory(f"linearized_error(steps={steps})", (steps + 1, e.size), dtype=np.float64)
    q = np.zeros_like(e)
    out = np.empty((steps + 1, e.size))
    out[0] = e
    for k in range(1, steps + 1):
        g = H @ e
        if method == "gd":
            e = e - lr * g
        elif method == "hb":
            q = momentum * q + g
            e = e - lr * q
        else:
            mu = (k - 1) / (k + r - 1)
            if mu > 0:  # k = 1 is a plain gradient step that records no velocity (as torch's SGD)
                q = mu * q + g
            e = e - lr * (g + mu * q)
        out[k] = e
    return out


def loss_of_error(e: Any) -> np.ndarray:
    """Square loss ½‖e‖² of each row of a (T, n) error trajectory (the theory's L = ½‖u − y‖²)."""
    e = np.asarray(e, dtype=np.float64)
    return 0.5 * np.sum(e * e, axis=-1)


def discretization_gap(method: str, H: Any, e0: Any, lr: float, horizon: float, *, momentum: float | None = None,
                       r: float | None = None) -> float:
    """sup over steps k with ode_time(k) ≤ horizon of ‖e_lin(k) − e_ODE(t_k)‖ / ‖e0‖ (the η floor).

    The gap between the optimizer's exact iterates on the linearised model (:func:`linearized_error`) and
    its limiting ODE; it vanishes like η (GD) or √η (HB, NAG) at a fixed ODE horizon (the time map).
    For HB the momentum β is re-derived from the friction γ = (1 − β)/√η when comparing learning rates:
    pass the β that goes with this ``lr``.
    """
    horizon = check_positive("horizon", horizon)
    steps = int(math.floor(horizon / float(ode_time(1, lr, method)) + 1e-9))
    e_lin = linearized_error(method, H, e0, steps, lr, momentum=momentum, r=r)
    e_ode = predicted_error(method, H, e0, np.arange(steps + 1), lr, momentum=momentum, r=r)
    return float(np.linalg.norm(e_lin - e_ode, axis=1).max() / np.linalg.norm(e_lin[0]))
