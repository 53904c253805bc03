"""A global solver without an SDP: conditional gradient / column generation with the exact TRS oracle (§3.6).

Start from no neurons (at 24 < d <= 74 from a Burer–Monteiro fit of rank 10 per sign), or a warm start;
repeat: certify the current network (exact max of |wᵀσ(Xu)| over the sphere by the trust-region subproblem);
stop when the certified relative gap is below ``tol``; else add the most violating neuron(s), re-fit α by an
exact sign-constrained Lasso over the active neurons, polish, and prune zero weights. The polish (issue 16): far
from the optimum, or when the neurons' dense Hessian would be large, L-BFGS on the Burer–Monteiro factors of the
two lifts (:mod:`._bm`, one trace constraint per sign instead of one norm constraint per neuron); close to it, a
damped Riemannian Newton method on the neurons (:mod:`._newton`), which reaches the ~gap² primal precision a
certified gap needs in a few steps. The returned certificate is recomputed from scratch on the returned network.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
from threadpoolctl import ThreadpoolController

from netoptima.conventions import check_int, check_positive, check_real, progress
from netoptima.convex._bm import bm_polish, factors_to_neurons, neurons_to_factors, product_form
from netoptima.convex._newton import DENSE_MAX, newton_polish
from netoptima.convex.certificate import Certificate, CorrelationOracle, certificate, certify_with
from netoptima.convex.decomposition import rank_one_decomposition
from netoptima.convex.model import (
    QuadraticActivationNet,
    as_activation,
    as_data,
    check_loss,
    features_np,
    loss_grad,
    loss_value,
    net_arrays,
)

# Polish schedule (measured with benchmarks/convex.py): damped Newton on the neurons once the certified gap is
# below _NEWTON_GAP (from the start for d <= _NEWTON_ONLY_D) while its dense Hessian is small (k(d+1) <= DENSE_MAX);
# otherwise L-BFGS on the Burer–Monteiro factors, at most _BM_STEPS iterations per outer iteration; Newton far from
# the optimum (small d) at most _EARLY_NEWTON steps per outer iteration. _BM_STEPS 500 (was 1000): at d = 40 the
# Newton phase takes over sooner, 0.51-0.75 s CPU vs 0.79-0.83 s on 3 seeds. Newton is also capped at _EARLY_NEWTON
# steps per outer iteration while the gap is above _NEWTON_CAP_GAP (re-certifying costs ~1 ms at d = 40, and the
# oracle then adds the missing neurons instead of Newton fitting the wrong support): d = 40, 6 seeds, twice,
# 4.41 -> 3.98 and 4.29 -> 3.92 s CPU in total; d = 10, 20 unchanged (0.21/0.21, 0.63/0.59 s)
_NEWTON_GAP = 0.1
_NEWTON_ONLY_D = 24
_BM_STEPS = 500
_BM_BIG = 2_000_000
_EARLY_NEWTON = 15
_NEWTON_CAP_GAP = 0.01
_BM_MAXCOR = 20
# Cold start above _NEWTON_ONLY_D while the dense Newton can still polish a network of 2·_START_RANK neurons
# (2·_START_RANK·(d+1) <= DENSE_MAX, d <= 74): _START_STEPS L-BFGS steps on rank-_START_RANK Burer–Monteiro factors per
# sign from a fixed small random point, in place of growing the width one oracle call at a time (0 -> 2 -> 6 -> 11 ->
# 15 neurons at d = 40, 500 L-BFGS steps each). d = 40, n = 200, 4 seeds, sum of best-of-2 CPU s: 2.06 -> 1.43
# (start seeds 0/1/2: 1.43/1.57/1.49; rank 8: 1.26 but 8 outer iterations on one seed; rank 12: 1.53; 600/1500
# steps: 1.46/1.66; memory 5/10/40: 1.48/1.54/1.86); d = 30: 1.14 -> 1.00; d = 60: 7.5 -> 4.6. Not above: d = 100,
# n = 1000 2.7 -> 2.7 s; d = 200, n = 2000 22 -> 25 s (issue 16)
_START_MIN_D = _NEWTON_ONLY_D
_START_RANK = 10
_START_STEPS = 1000
_START_SEED = 0
_START_SCALE = 0.1

__all__ = ["GlobalResult", "compress", "fit_global", "fit_one_vs_all", "lasso", "polish", "polish_objective",
           "predict_one_vs_all"]


@dataclass
class GlobalResult:
    """Outcome of :func:`fit_global`.

    Attributes:
        net: the final network.
        certificate: its certificate (exact TRS).
        converged: whether the certified relative gap reached ``tol``.
        history: one dict per outer iteration: iteration, objective, lower_bound, gap, relative_gap,
            dual_max (M/β), width, seconds (cumulative).
    """

    net: QuadraticActivationNet
    certificate: Certificate
    converged: bool
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def iterations(self) -> int:
        return len(self.history)


# ------------------------------------------------------------------------------------------------- Lasso


def lasso(A: np.ndarray, y: np.ndarray, beta: float, *, signs: np.ndarray, alpha0: np.ndarray | None = None,
          loss: str = "squared", delta: float = 1.0, tol: float = 1e-10) -> np.ndarray:
    """argmin_α ℓ(Aα, y) + β‖α‖₁ over α with fixed signs (s_j α_j >= 0): the re-fit of the output weights.

    With α = s ⊙ γ, γ >= 0, the ℓ1 term is linear, β 1ᵀγ. For the squared loss this is a non-negative QP
    ½γᵀHγ − fᵀγ (H = S AᵀA S, f = S Aᵀy − β1), solved exactly by a Lawson–Hanson active-set method on the
    k×k Gram; for Huber, L-BFGS-B with bounds. A neuron whose best weight has the other sign gets γ_j = 0
    (it is pruned, and the TRS oracle proposes it again with the right sign if it still violates).

    Arguments:
        A: (n, k) features σ(XUᵀ); y: (n,); beta: β > 0.
        signs: (k,) ±1, the sign of each output weight.
        alpha0: warm start (k,).
        loss: ``"squared"`` or ``"huber"`` (``delta``).
        tol: optimality tolerance on the gradient, relative to β.

    Returns:
        α (k,).
    """
    n, k = A.shape
    if k == 0:
        return np.zeros(0)
    s = np.asarray(signs, dtype=np.float64)
    g0 = np.zeros(k) if alpha0 is None else np.clip(s * np.asarray(alpha0, dtype=np.float64), 0.0, None)
    AS = A * s  # (n, k)
    if loss == "squared":
        gamma = _nnqp(AS.T @ AS, AS.T @ y - beta, g0, tol * beta)
    else:
        def fg(gm: np.ndarray) -> tuple[float, np.ndarray]:
            yhat = AS @ gm
            return (loss_value(yhat, y, loss, delta=delta) + beta * gm.sum(),
                    AS.T @ loss_grad(yhat, y, loss, delta=delta) + beta)

        res = scipy.optimize.minimize(fg, g0, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * k,
                                      options={"maxiter": 5000, "ftol": 1e-16, "gtol": tol * beta})
        gamma = np.where(res.x > 0, res.x, 0.0)
    return s * gamma


def _nnqp(H: np.ndarray, f: np.ndarray, x0: np.ndarray, tol: float) -> np.ndarray:
    """min ½xᵀHx − fᵀx s.t. x >= 0 (H PSD) by the Lawson–Hanson active-set method, warm-started at x0 >= 0.

    Stops when the negative gradient f − Hx is <= tol on the zero set (x is optimal on its support).
    """
    k = f.size
    x = np.clip(x0, 0.0, None)
    P = x > 0  # passive set: the free variables

    def solve(mask: np.ndarray) -> np.ndarray:
        z = np.zeros(k)
        idx = np.flatnonzero(mask)
        if idx.size:
            z[idx] = scipy.linalg.lstsq(H[np.ix_(idx, idx)], f[idx], cond=1e-14, lapack_driver="gelsd")[0]
        return z

    for _ in range(3 * k + 20):
        for _ in range(3 * k + 20):  # inner loop: optimal on P while staying feasible
            z = solve(P)
            bad = P & (z <= 0)
            if not bad.any():
                x = z
                break
            t = float(np.min(x[bad] / (x[bad] - z[bad])))  # walk from x towards z until a variable hits 0
            x = x + t * (z - x)
            P &= x > 1e-15 * max(1.0, float(np.abs(x).max()))
            x[~P] = 0.0
        w = f - H @ x  # negative gradient
        w[P] = -np.inf
        j = int(np.argmax(w))
        if w[j] <= tol:
            break
        P[j] = True
    return x


def compress(U: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Same predictions and penalty with at most d+1 neurons per sign (lift, then neural decomposition).

    Σ_{α_j>0} α_j [u_j; 1][u_j; 1]ᵀ has rank <= d+1 (spec §3.1), so redundant neurons of one sign can be
    replaced by its rank-one decomposition (§3.2); redundant sets make the local polish degenerate.
    """
    k, d = U.shape
    out_U, out_a = [], []
    for sign in (1.0, -1.0):
        sel = np.sign(alpha) == sign
        if sel.sum() <= d + 1:
            out_U.append(U[sel])
            out_a.append(alpha[sel])
            continue
        Y = np.concatenate([U[sel], np.ones((int(sel.sum()), 1))], axis=1)  # (k_s, d+1)
        Z = (Y.T * np.abs(alpha[sel])) @ Y  # (d+1, d+1)
        R = rank_one_decomposition(Z, 1e-13)  # rows [v; s], ‖v‖ = |s|
        keep = (np.abs(R[:, -1]) > 0) & (np.linalg.norm(R[:, :-1], axis=1) > 0)
        R = R[keep]
        out_U.append(np.sign(R[:, -1:]) * R[:, :-1] / np.linalg.norm(R[:, :-1], axis=1, keepdims=True))
        out_a.append(sign * R[:, -1] ** 2)
    return np.concatenate(out_U), np.concatenate(out_a)


# ----------------------------------------------------------------------------------------------- polish


def polish_objective(p: np.ndarray, X: np.ndarray, y: np.ndarray, s: np.ndarray, *, beta: float,
                     abc: tuple[float, float, float], loss: str, delta: float) -> tuple[float, np.ndarray]:
    """Value and gradient of ℓ(Σ α_j σ(X z_j/‖z_j‖)) + β Σ s_j α_j at p = [vec(Z); α] (the polish objective).

    ∂/∂α_j = σ(Xu_j)ᵀw + β s_j and ∂/∂u_j = α_j Xᵀ(w ⊙ (2a Xu_j + b)) with w = ∇ℓ(ŷ); the chain rule through
    u = z/‖z‖ projects onto the tangent space and divides by ‖z‖.
    """
    k = s.size
    d = X.shape[1]
    a, b, c = abc
    Z, al = p[: k * d].reshape(k, d), p[k * d:]
    nz = np.linalg.norm(Z, axis=1)  # (k,)
    Un = Z / nz[:, None]
    T = X @ Un.T  # (n, k)
    S = (a * T + b) * T + c  # (n, k)
    yhat = S @ al
    w = loss_grad(yhat, y, loss, delta=delta)  # (n,)
    f = loss_value(yhat, y, loss, delta=delta) + beta * float(s @ al)
    g_al = S.T @ w + beta * s  # (k,)
    g_u = (X.T @ (w[:, None] * (2 * a * T + b))).T * al[:, None]  # (k, d) ∂f/∂u_j
    g_z = (g_u - (g_u * Un).sum(1, keepdims=True) * Un) / nz[:, None]  # through u = z/‖z‖
    return f, np.concatenate([g_z.ravel(), g_al])


def polish(X: np.ndarray, y: np.ndarray, U: np.ndarray, alpha: np.ndarray, *, beta: float, activation: Any,
           loss: str = "squared", delta: float = 1.0, max_iter: int = 50, ftol: float = 1e-16,
           ) -> tuple[np.ndarray, np.ndarray]:
    """Joint local descent on (u_j, α_j) with the signs of α fixed (ADCG's local step).

    On the orthant sign(α_j) = s_j the objective ℓ(Σ α_j σ(Xu_j)) + β Σ s_j α_j is smooth; u_j = z_j/‖z_j‖
    removes the sphere constraint, and L-BFGS-B handles the bounds s_j α_j >= 0 (stopping after ``max_iter``
    iterations or a relative decrease below ``ftol``). Never increases the objective.

    Returns:
        (U, alpha) with unit rows.
    """
    k, d = U.shape
    if k == 0:
        return U, alpha
    abc = as_activation(activation)
    s = np.where(alpha >= 0, 1.0, -1.0)
    args = (X, y, s)
    kw = {"beta": beta, "abc": abc, "loss": loss, "delta": delta}
    p0 = np.concatenate([U.ravel(), alpha])
    bounds = [(None, None)] * (k * d) + [(0.0, None) if si > 0 else (None, 0.0) for si in s]
    f0 = polish_objective(p0, *args, **kw)[0]
    res = scipy.optimize.minimize(lambda p: polish_objective(p, *args, **kw), p0, jac=True, method="L-BFGS-B",
                                  bounds=bounds, options={"maxiter": max_iter, "ftol": ftol, "gtol": 1e-14,
                                                          "maxcor": 20})
    if not np.isfinite(res.fun) or res.fun > f0:
        return U, alpha
    Z, al = res.x[: k * d].reshape(k, d), res.x[k * d:]
    return Z / np.linalg.norm(Z, axis=1, keepdims=True), al


# ----------------------------------------------------------------------------------------------- solver

_CONTROLLER: list[ThreadpoolController] = []  # created once: scanning the loaded libraries costs ~15 ms


def _blas_limit(n: int) -> Any:
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=n, user_api="blas")


def fit_global(X: Any, y: Any, *, activation: Any, beta: float, tol: float = 1e-6, loss: str = "squared",
               delta: float = 1.0, max_iter: int = 500, polish_steps: int = 100, extra_neurons: int = 4,
               init: QuadraticActivationNet | None = None, lasso_tol: float = 1e-10,
               quiet: bool | None = None, time_limit: float | None = None,
               callback: Callable[[dict[str, float]], Any] | None = None,
               blas_threads: int | None = None) -> GlobalResult:
    """Globally optimal quadratic-activation network without an SDP, stopping on a certified gap (spec §3.6).

    A cold start at 24 < d <= 74 first fits rank-10 Burer–Monteiro factors per sign (L-BFGS from a fixed random
    point). Each outer iteration certifies the current network (exact TRS), adds the most violating neuron and the
    other violators of the same eigendecomposition, re-fits α exactly (sign-constrained Lasso), and polishes
    all (u_j, α_j) jointly: L-BFGS on the Burer–Monteiro factors of the lifts while the gap is large or the
    network is too large for a dense Hessian, then a damped Riemannian Newton method (:mod:`._newton`), which
    reaches the ~gap² primal precision that a certified gap needs in a few steps.

    The returned certificate is recomputed from scratch on the returned network (a fresh oracle), so
    ``result.certificate.relative_gap`` is the exact trust-region dual gap of ``result.net``.

    Arguments:
        X: inputs (n, d); y: targets (n,).
        activation: (a, b, c) of σ(t) = a t² + b t + c with a != 0 (a = 0 makes the network linear in x: use a
            Lasso / linear model; it is refused with a ValueError).
        beta: ℓ1 weight β > 0.
        tol: stop when the certified relative gap (primal − lower bound)/primal <= tol.
        loss: ``"squared"`` or ``"huber"`` (``delta``); ℓ1 is not smooth: use ``fit_sdp``.
        max_iter: outer iterations (one exact TRS each).
        polish_steps: at most this many Newton iterations of the joint (U, α) polish per outer iteration
            (0: plain fully corrective conditional gradient, no polish at all).
        extra_neurons: besides the most violating neuron, up to 2 × this many further violators per oracle
            call (local maximisers of ±wᵀσ(Xu) from the same eigendecomposition).
        init: optional warm start (e.g. a backprop or SDP-decoded network).
        lasso_tol: KKT tolerance (relative to β) of the α re-fit.
        quiet: progress bar with iteration, objective, gap and width (see ``netoptima.conventions.progress``:
            ``None`` shows it only when stderr is a terminal).
        time_limit: seconds; the run stops after the first certificate past it, with ``converged=False`` and
            the certificate of the last network (never an exception). ``None``: no limit.
        callback: called after every certificate with that iteration's history dict.
        blas_threads: BLAS thread limit during the run (default 1: on shared cores OpenBLAS threads spin on the
            small products and factorisations here, 5-300x slower measured; 0: leave unchanged).

    Returns:
        :class:`GlobalResult` (``converged`` is False when ``max_iter`` or ``time_limit`` ended the run).

    Raises:
        ValueError: bad arguments, an ℓ1 loss, or an activation without a quadratic term (a = 0).
    """
    beta = check_positive("beta", beta)
    tol = check_real("tol", tol, low=0.0)
    loss, delta = check_loss(loss, delta)
    if loss == "l1":
        raise ValueError("fit_global needs a smooth loss ('squared' or 'huber'); for loss='l1' use fit_sdp")
    max_iter = check_int("max_iter", max_iter, low=1)
    polish_steps = check_int("polish_steps", polish_steps, low=0)
    extra_neurons = check_int("extra_neurons", extra_neurons, low=0)
    lasso_tol = check_positive("lasso_tol", lasso_tol)
    deadline = math.inf if time_limit is None else time.perf_counter() + check_positive("time_limit", time_limit)
    abc = as_activation(activation)
    if abc[0] == 0:
        raise ValueError(f"activation {abc} has no quadratic term (a = 0): σ(xᵀu) = b xᵀu + c makes the network "
                         "linear in x (f(x) = b xᵀv + c m with ‖v‖ ≤ Σ|α_j|), which fit_global does not cover; fit "
                         "a Lasso / linear model instead, or use a != 0")
    Xn, yn = as_data(X, y)
    n, d = Xn.shape
    if init is not None:
        if init.d != d:
            raise ValueError(f"init has d = {init.d} but X has {d} features")
        U, alpha = net_arrays(init)
        U = U / np.linalg.norm(U, axis=1, keepdims=True)
    else:
        U, alpha = np.zeros((0, d)), np.zeros(0)
    blas_threads = 1 if blas_threads is None else check_int("blas_threads", blas_threads, low=0)
    with _blas_limit(blas_threads) if blas_threads else contextlib.nullcontext():
        U, alpha, history = _column_generation(
            Xn, yn, U, alpha, abc=abc, beta=beta, tol=tol, loss=loss, delta=delta, max_iter=max_iter,
            polish_steps=polish_steps, extra_neurons=extra_neurons, lasso_tol=lasso_tol, quiet=quiet,
            deadline=deadline, callback=callback)
    net = QuadraticActivationNet.from_neurons(U, alpha, activation=abc) if U.shape[0] else \
        QuadraticActivationNet(d, 0, activation=abc)
    # the reported certificate: recomputed from scratch on the returned network
    final = certificate(net, Xn, yn, beta=beta, loss=loss, delta=delta)
    return GlobalResult(net=net, certificate=final, converged=final.relative_gap <= tol, history=history)


def _column_generation(Xn: np.ndarray, yn: np.ndarray, U: np.ndarray, alpha: np.ndarray, *,
                       abc: tuple[float, float, float],
                       beta: float, tol: float, loss: str, delta: float, max_iter: int, polish_steps: int,
                       extra_neurons: int, lasso_tol: float, quiet: bool | None, deadline: float,
                       callback: Callable[[dict[str, float]], Any] | None,
                       ) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]]]:
    """The loop of :func:`fit_global` on validated arrays; returns (U, α, history)."""
    n, d = Xn.shape
    # one L-BFGS step passes over X twice: on MNIST-sized data (n·d > 2e6) certify (and add neurons) more often
    bm_steps = _BM_STEPS if n * d <= _BM_BIG else _BM_STEPS // 10
    # there an evaluation costs ~16 ms, so a longer L-BFGS memory is free: MNIST d = 784, n = 5,000, digit 7 gap
    # 2.0e-4 at 14.7 s CPU vs 8.7e-4 at 18.8 s (memory 20), digit 3 gap 3.3e-5 vs 1.8e-4 at 29.4 s (issue 16)
    maxcor = _BM_MAXCOR if n * d <= _BM_BIG else 3 * _BM_MAXCOR
    oracle = CorrelationOracle(Xn, abc, validated=True)
    Xp = product_form(Xn)  # CSR for mostly-zero data (MNIST): the factor polish's passes over X are memory-bound
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    if U.shape[0] == 0 and polish_steps and _START_MIN_D < d and 2 * _START_RANK * (d + 1) <= DENSE_MAX:
        U, alpha = _factored_start(Xn, yn, abc=abc, beta=beta, loss=loss, delta=delta, deadline=deadline)
        if U.shape[0]:
            alpha = lasso(features_np(Xn, U, abc), yn, beta, signs=np.sign(alpha), alpha0=alpha, loss=loss,
                          delta=delta, tol=lasso_tol)
            U, alpha = U[alpha != 0], alpha[alpha != 0]
    bar = progress(range(max_iter), desc="fit_global", quiet=quiet)
    for it in bar:
        cert, extras = certify_with(U, alpha, Xn, yn, beta=beta, abc=abc, loss=loss, delta=delta, oracle=oracle,
                                    extra=extra_neurons)
        history.append({"iteration": it, "objective": cert.objective, "lower_bound": cert.lower_bound,
                        "gap": cert.gap, "relative_gap": cert.relative_gap, "dual_max": cert.dual_max / beta,
                        "width": int(U.shape[0]), "seconds": time.perf_counter() - t0})
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(objective=f"{cert.objective:.10g}", gap=f"{cert.relative_gap:.2e}", width=U.shape[0])
        if callback is not None:
            callback(history[-1])
        if cert.relative_gap <= tol or time.perf_counter() >= deadline:
            break
        # the most violating neuron, then the other violators found with it (distinct from what is there);
        # wᵀσ(Xu) > β asks for α < 0, < −β for α > 0
        signs = np.where(alpha > 0, 1.0, -1.0)
        # (close to the optimum the support is nearly right: the extra violators only cost Newton steps)
        extras = extras if cert.relative_gap > _NEWTON_GAP or U.shape[0] * (d + 1) > DENSE_MAX else []
        for u_new, corr in [(cert.worst_neuron.numpy(), cert.worst_sign * cert.dual_max), *extras]:
            if abs(corr) <= beta or (U.shape[0] and np.max(np.abs(U @ u_new)) > 1 - 1e-9):
                continue
            U, alpha, signs = np.vstack([U, u_new]), np.append(alpha, 0.0), np.append(signs, -np.sign(corr))
        alpha = lasso(features_np(Xn, U, abc), yn, beta, signs=signs, alpha0=alpha, loss=loss, delta=delta,
                      tol=lasso_tol)
        U, alpha = U[alpha != 0], alpha[alpha != 0]
        if not (polish_steps and U.shape[0]):
            U, alpha = compress(U, alpha)
            continue
        # a certified gap ε needs a primal accurate to ~ε² (the dual point is the residual)
        ftol = float(np.clip(1e-3 * min(cert.relative_gap, 1.0) ** 2, 1e-18, 1e-6))
        newton = (cert.relative_gap <= _NEWTON_GAP or d <= _NEWTON_ONLY_D) and U.shape[0] * (d + 1) <= DENSE_MAX
        if not newton:
            # L-BFGS on the Burer–Monteiro factors of the two lifts (a benign landscape; cheap iterations)
            Ys = bm_polish(Xp, yn, neurons_to_factors(U, alpha), beta=beta, abc=abc, loss=loss, delta=delta,
                           max_iter=bm_steps if cert.relative_gap > _NEWTON_GAP else 3 * bm_steps, ftol=ftol,
                           deadline=deadline, maxcor=maxcor)
            U, alpha = factors_to_neurons(Ys, 1e-10)
        else:
            # close: damped Riemannian Newton on the neurons, to the precision the certificate needs
            U, alpha = compress(U, alpha)
            steps = polish_steps if cert.relative_gap <= _NEWTON_CAP_GAP else min(polish_steps, _EARLY_NEWTON)
            U, alpha, _ = newton_polish(Xn, yn, U, alpha, beta=beta, abc=abc, loss=loss, delta=delta,
                                        max_iter=steps, ftol=ftol, deadline=deadline)
        alpha = lasso(features_np(Xn, U, abc), yn, beta, signs=np.sign(alpha), alpha0=alpha, loss=loss,
                      delta=delta, tol=lasso_tol)
        U, alpha = U[alpha != 0], alpha[alpha != 0]
    return U, alpha, history


def _factored_start(Xn: np.ndarray, yn: np.ndarray, *, abc: tuple[float, float, float], beta: float, loss: str,
                    delta: float, deadline: float) -> tuple[np.ndarray, np.ndarray]:
    """A cold start's first network: L-BFGS on Burer–Monteiro factors of rank _START_RANK per sign from a fixed
    small random point, decoded by the neural decomposition (spec §3.2; column generation then certifies and
    repairs it: a rank below the optimum's only leaves neurons for the oracle to add)."""
    d = Xn.shape[1]
    r = min(d + 1, _START_RANK)
    rng = np.random.default_rng(_START_SEED)
    Ys = [_START_SCALE * rng.standard_normal((d + 1, r)) for _ in range(2)]
    Ys = bm_polish(Xn, yn, Ys, beta=beta, abc=abc, loss=loss, delta=delta, max_iter=_START_STEPS, ftol=1e-16,
                   deadline=deadline)
    return factors_to_neurons(Ys, 1e-10)


def fit_one_vs_all(X: Any, labels: Any, *, activation: Any, beta: float, tol: float = 1e-4,
                   classes: list[int] | None = None, **kwargs: Any) -> dict[int, GlobalResult]:
    """One :func:`fit_global` per class with ±1 targets (one-vs-all, as scnn does for multi-class).

    Returns:
        {class: GlobalResult}.
    """
    Xn, ln = as_data(X, labels, name_y="labels")
    classes = sorted({int(c) for c in ln}) if classes is None else [int(c) for c in classes]
    return {k: fit_global(Xn, np.where(ln == k, 1.0, -1.0), activation=activation, beta=beta, tol=tol, **kwargs)
            for k in classes}


def predict_one_vs_all(nets: dict[int, QuadraticActivationNet], X: Any) -> np.ndarray:
    """argmax over classes of the per-class network outputs: (n,) labels.

    Raises:
        ValueError: ``nets`` is not a non-empty dict of label -> QuadraticActivationNet of X's dimension d.
    """
    Xn, _ = as_data(X)
    if not isinstance(nets, dict) or not nets:
        raise ValueError(f"nets must be a non-empty dict of label -> QuadraticActivationNet, got "
                         f"{type(nets).__name__}{' (empty)' if isinstance(nets, dict) else ''}")
    for k, net in nets.items():
        if not isinstance(net, QuadraticActivationNet):
            raise ValueError(f"nets[{k!r}] must be a QuadraticActivationNet, got {type(net).__name__}")
        if net.d != Xn.shape[1]:
            raise ValueError(f"nets[{k!r}] has input dimension d = {net.d} but X has {Xn.shape[1]} columns")
    keys = sorted(nets)
    cols = []
    for k in keys:
        U, alpha = net_arrays(nets[k])
        cols.append(features_np(Xn, U, nets[k].abc) @ alpha if U.shape[0] else np.zeros(Xn.shape[0]))
    return np.asarray(keys)[np.stack(cols, axis=1).argmax(axis=1)]
