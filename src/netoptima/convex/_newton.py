"""Riemannian Newton polish of (u_j, α_j) for fit_global: Levenberg–Marquardt on the product of spheres.

f(U, α) = ℓ(Σ_j α_j σ(X u_j)) + β Σ_j s_j α_j with ‖u_j‖ = 1 and the signs s_j of α fixed. Near a local minimum
this is smooth (the orthant constraint is inactive), so a second-order method converges to the precision the
certificate needs — a certified gap ε asks for a primal accurate to ~ε², which first-order methods reach slowly.

Exact Riemannian Hessian (the Gauss–Newton part JᵀDJ, the second-order terms of σ and of the α–u coupling,
minus the sphere's curvature term (uᵀ∇_u f)·I on each tangent space), damped by μ = θ‖grad‖ (LM for minima
that are not isolated: at the optimum the neural decomposition of the lift is not unique). Up to
``DENSE_MAX`` parameters the Hessian is built densely and factored by Cholesky; above, the damped system is
solved by conjugate gradients on Hessian–vector products (fit_global does not use that path: unpreconditioned,
it stalled at d = 100, where L-BFGS on the Burer–Monteiro factors certified in seconds). A step that pushes a
weight through zero drops that neuron when dropping alone does not increase f, else is shortened to where the
weight reaches zero (the TRS oracle proposes the neuron again if it is still needed). After an accepted step α
is re-solved exactly for the new neurons (squared loss); a rejected step keeps the Hessian, and the next
factorisation starts from the last shift that made it positive definite (issue 16, d = 40: 0.85 -> ~0.65 s CPU).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import scipy.linalg

from netoptima.convex.model import loss_grad, loss_value

_POTRF, _POTRS, _SYMV = scipy.linalg.lapack.dpotrf, scipy.linalg.lapack.dpotrs, scipy.linalg.blas.dsymv
DENSE_MAX = 1500  # ambient parameter count k(d+1) up to which the Hessian is built densely (else CG)


def _loss_hess(yhat: np.ndarray, y: np.ndarray, loss: str, delta: float) -> np.ndarray:
    if loss == "squared":
        return np.ones_like(yhat)
    return (np.abs(yhat - y) <= delta).astype(np.float64)


class _Problem:
    """The data and the current point's cached quantities (T = XUᵀ, σ(T), σ'(T), ∇ℓ, ℓ'')."""

    def __init__(self, X: np.ndarray, y: np.ndarray, beta: float, abc: tuple[float, float, float], loss: str,
                 delta: float) -> None:
        self.X, self.y, self.beta, self.abc, self.loss, self.delta = X, y, beta, abc, loss, delta
        self.buffers: dict[str, np.ndarray] = {}

    def value(self, U: np.ndarray, alpha: np.ndarray) -> float:
        a, b, c = self.abc
        T = self.X @ U.T
        yhat = ((a * T + b) * T + c) @ alpha
        return loss_value(yhat, self.y, self.loss, delta=self.delta) + self.beta * float(np.abs(alpha).sum())

    def at(self, U: np.ndarray, alpha: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Set the point; returns (f, Riemannian gradient w.r.t. U (k, d), gradient w.r.t. α (k,))."""
        a, b, c = self.abc
        self.U, self.alpha = U, alpha
        self.s = np.where(alpha >= 0, 1.0, -1.0)
        T = self.X @ U.T  # (n, k)
        self.S = (a * T + b) * T + c
        self.P = 2 * a * T + b  # σ'(T)
        yhat = self.S @ alpha
        self.w = loss_grad(yhat, self.y, self.loss, delta=self.delta)  # (n,)
        self.D = _loss_hess(yhat, self.y, self.loss, self.delta)  # (n,)
        f = loss_value(yhat, self.y, self.loss, delta=self.delta) + self.beta * float(self.s @ alpha)
        self.C = (self.X.T @ (self.w[:, None] * self.P)).T  # (k, d): ∂/∂u_j of σ(Xu_j)ᵀw
        GU = self.C * alpha[:, None]  # Euclidean ∂f/∂u_j
        self.radial = (GU * U).sum(1)  # (k,) u_jᵀ∇_{u_j} f: the sphere's curvature term
        gU = GU - self.radial[:, None] * U
        ga = self.S.T @ self.w + self.beta * self.s
        return f, gU, ga

    def refit_alpha(self, U: np.ndarray, alpha: np.ndarray, f: float) -> np.ndarray:
        """The exact α for fixed U and signs (squared loss: (SᵀS)⁻¹(Sᵀy − βs)) when it keeps the signs and lowers f.

        The retraction moves σ(Xu_j) at second order, which shifts the best α along the stiffest direction of
        the Hessian (the α block ~ SᵀS); re-solving α removes that error instead of spending a damped step on it.
        """
        a, b, c = self.abc
        T = self.X @ U.T
        S = (a * T + b) * T + c
        s = np.where(alpha >= 0, 1.0, -1.0)
        try:
            with warnings.catch_warnings():  # an ill-conditioned solve is caught by the sign and value checks below
                warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
                new = scipy.linalg.solve(S.T @ S, S.T @ self.y - self.beta * s, assume_a="pos", check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            return alpha
        if np.all(s * new > 0) and self.value(U, new) <= f:
            return new
        return alpha

    def hvp(self, XiU: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Riemannian Hessian times a tangent direction (Ξ (k, d) with rows ⊥ u_j, η (k,))."""
        a = self.abc[0]
        XX = self.X @ XiU.T  # (n, k)
        q = self.D * (self.S @ eta + (self.P * XX) @ self.alpha)  # (n,)
        ha = self.S.T @ q + ((XX * self.P).T @ self.w)
        M = (q[:, None] * self.P) * self.alpha + (self.w[:, None] * self.P) * eta + 2 * a * self.w[:, None] * XX * \
            self.alpha
        HU = (self.X.T @ M).T  # (k, d)
        HU -= (HU * self.U).sum(1, keepdims=True) * self.U
        HU -= self.radial[:, None] * XiU
        return HU, ha

    def dense_hessian(self) -> np.ndarray:
        """The Riemannian Hessian in ambient coordinates [vec(U); α] ((k(d+1))², radial directions set to 1)."""
        H = self.dense_hessian_upper()
        return np.triu(H) + np.triu(H, 1).T

    def dense_hessian_upper(self) -> np.ndarray:
        """:meth:`dense_hessian`'s upper triangle (the lower one is not set), Fortran order, in a reused buffer.

        The Jacobian's u-blocks are projected onto the tangent spaces before the product (n·k·d work instead of
        projecting the (k(d+1))² matrix), and JᵀDJ is one symmetric rank-n update (BLAS syrk, half a GEMM). Only
        the upper triangle is formed and the buffers are reused: at d = 40, k = 17 symmetrising the 4 MB matrix
        and page-faulting fresh ones cost more than the syrk itself (issue 16: 11.5 -> ~4 ms per Hessian).
        """
        a = self.abc[0]
        X, U, alpha = self.X, self.U, self.alpha
        n, d = X.shape
        k = alpha.size
        kd = k * d
        T = X @ U.T  # (n, k)
        sd = np.sqrt(self.D)  # ℓ'' is 1 (squared) or 0/1 (Huber)
        J = _buffer(self.buffers, "J", (n, kd + k))
        # ∂ŷ/∂u_j (I − u_j u_jᵀ) = α_j σ'(Xu_j) ⊙ (X − (Xu_j) u_jᵀ)
        W = self.P * (alpha * sd[:, None])  # (n, k)
        Ju = W[:, :, None] * X[:, None, :]
        Ju -= (W * T)[:, :, None] * U[None]
        J[:, :kd] = Ju.reshape(n, kd)
        J[:, kd:] = self.S * sd[:, None]
        H = _buffer(self.buffers, "H", (kd + k, kd + k))
        H = scipy.linalg.blas.dsyrk(1.0, J, beta=0.0, c=H, trans=1, lower=0, overwrite_c=1)  # upper of JᵀDJ
        XwX = X.T @ (self.w[:, None] * X)  # (d, d)
        eye = np.eye(d)
        for j in range(k):
            sl = slice(j * d, (j + 1) * d)
            Pj = eye - np.outer(U[j], U[j])
            # second-order term of σ, the sphere's curvature −(uᵀ∇f)Π, a unit weight on the radial direction
            H[sl, sl] += Pj @ (2 * a * alpha[j] * XwX) @ Pj - self.radial[j] * Pj + np.outer(U[j], U[j])
            H[sl, kd + j] += Pj @ self.C[j]  # the α–u coupling (upper triangle: rows < columns)
        return H


def _buffer(store: dict[str, np.ndarray], name: str, shape: tuple[int, int]) -> np.ndarray:
    """A Fortran-ordered float64 work array of this shape, reused across calls (contents undefined)."""
    buf = store.get(name)
    if buf is None or buf.shape != shape:
        buf = store[name] = np.empty(shape, order="F")
    return buf


def _retract(U: np.ndarray, alpha: np.ndarray, XiU: np.ndarray, eta: np.ndarray, s: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray]:
    Z = U + XiU
    Un = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    an = alpha + eta
    an = np.where(s * an > 0, an, 0.0)  # a weight that would change sign is clipped to zero
    return Un, an


def _cg(prob: _Problem, gU: np.ndarray, ga: np.ndarray, mu: float, max_iter: int, rtol: float,
        ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Solve (H + μI) p = −g by CG; returns (pU, pa, ok); ok False on negative curvature."""
    xU, xa = np.zeros_like(gU), np.zeros_like(ga)
    rU, ra = -gU, -ga
    pU, pa = rU.copy(), ra.copy()
    rr = float((rU * rU).sum() + ra @ ra)
    stop = rtol * rtol * rr
    for _ in range(max_iter):
        HU, ha = prob.hvp(pU, pa)
        HU += mu * pU
        ha = ha + mu * pa
        curv = float((pU * HU).sum() + pa @ ha)
        if curv <= 0:
            return xU, xa, False
        step = rr / curv
        xU += step * pU
        xa = xa + step * pa
        rU -= step * HU
        ra = ra - step * ha
        rr_new = float((rU * rU).sum() + ra @ ra)
        if rr_new <= stop:
            break
        pU = rU + (rr_new / rr) * pU
        pa = ra + (rr_new / rr) * pa
        rr = rr_new
    return xU, xa, True


def newton_polish(X: np.ndarray, y: np.ndarray, U: np.ndarray, alpha: np.ndarray, *, beta: float,
                  abc: tuple[float, float, float], loss: str, delta: float, max_iter: int = 50,
                  ftol: float = 1e-17, dense_max: int = DENSE_MAX, cg_iter: int = 200,
                  deadline: float = math.inf,
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """Damped Riemannian Newton on (U, α) with fixed signs; stops when the predicted decrease is below
    ``ftol · |f|``. Never increases the objective. Returns (U, α, Newton iterations); α may contain zeros."""
    prob = _Problem(X, y, beta, abc, loss, delta)
    U, alpha = U.copy(), alpha.copy()
    f, gU, ga = prob.at(U, alpha)
    theta = 1e-2  # μ = θ ‖grad‖ (plus a shift when the damped Hessian is not positive definite)
    its = 0
    k, d = U.shape
    H: np.ndarray | None = None  # the Hessian at the current point (kept across rejected steps)
    hint = 0.0  # the last shift that made H + shift·I positive definite beyond μ: failed Cholesky cost as much
    while its < max_iter and k and time.perf_counter() < deadline:
        its += 1
        gnorm = math.sqrt(float((gU * gU).sum() + ga @ ga))
        if gnorm == 0.0:
            break
        mu = theta * gnorm
        if k * (d + 1) <= dense_max:
            if H is None or H.shape[0] != k * (d + 1):
                H = prob.dense_hessian_upper()  # upper triangle only (LAPACK/BLAS read no more)
            g = np.concatenate([gU.ravel(), ga])
            diag = np.arange(H.shape[0])
            scale = max(float(np.abs(H[diag, diag]).max()), 1e-300)
            shift = max(mu, 0.5 * hint)
            F = _buffer(prob.buffers, "F", H.shape)
            for _ in range(60):
                np.copyto(F, H)
                F[diag, diag] += shift
                cf, info = _POTRF(F, lower=0, clean=0, overwrite_a=1)
                if info == 0:
                    break
                shift = max(4 * shift, 1e-10 * scale)
            else:
                break
            hint = shift if shift > mu else 0.0
            p = -_POTRS(cf, g, lower=0)[0]
            gp, pHp = float(g @ p), float(p @ _SYMV(1.0, H, p, lower=0))
            pred = -(gp + 0.5 * pHp)
            pU, pa = p[: k * d].reshape(k, d), p[k * d:]
            pU = pU - (pU * U).sum(1, keepdims=True) * U  # exact tangent (rounding)
        else:
            shift = mu
            for _ in range(30):
                pU, pa, ok = _cg(prob, gU, ga, shift, cg_iter, min(0.1, math.sqrt(gnorm)))
                if ok:
                    break
                shift = max(4 * shift, 1e-8 * gnorm + 1e-12)
            HU, ha = prob.hvp(pU, pa)
            gp, pHp = float((gU * pU).sum() + ga @ pa), float((pU * HU).sum() + pa @ ha)
        pred = -(gp + 0.5 * pHp)
        if not (pred > 0 and math.isfinite(pred)):
            break
        leaving = prob.s * (alpha + pa) <= 0
        hit = np.zeros(k, dtype=bool)
        if leaving.any():
            # the step pushes these weights through zero: drop those neurons if that alone does not increase f
            # (then re-solve on the others), else shorten the step to where the first weight reaches zero
            if prob.value(U[~leaving], alpha[~leaving]) <= f:
                U, alpha = U[~leaving], alpha[~leaving]
                k = alpha.size
                f, gU, ga = prob.at(U, alpha)
                H = None
                continue
            ratio = np.where(leaving, alpha / np.where(leaving, -pa, 1.0), np.inf)
            t = float(ratio.min())
            hit = ratio <= t * (1 + 1e-12)
            pU, pa, gp, pHp = t * pU, t * pa, t * gp, t * t * pHp
            pred = -(gp + 0.5 * pHp)
            if not pred > 0:
                theta = min(theta * 4, 1e8)
                continue
        Un, an = _retract(U, alpha, pU, pa, prob.s)
        an[hit] = 0.0
        fn = prob.value(Un, an)
        noise = 64 * np.finfo(float).eps * max(abs(f), 1.0)
        rho = (f - fn) / pred
        if fn <= f and (rho > 1e-3 or pred <= noise):
            dropped = an == 0
            if dropped.any():
                Un, an = Un[~dropped], an[~dropped]
                k = an.size
            if loss == "squared" and an.size:
                an = prob.refit_alpha(Un, an, fn)
            U, alpha = Un, an
            fold = f
            f, gU, ga = prob.at(U, alpha)
            H = None
            theta = max(theta / 3, 1e-8) if rho > 0.75 else theta
            if pred <= ftol * max(abs(fold), 1e-300) and not dropped.any():
                break
        else:
            theta = min(theta * 4, 1e8)
            if pred <= noise:
                break
    return U, alpha, its
