"""Root finding for the weight-tied linear equilibrium z = γσ(A)z + φ(x) (Kawaguchi 2021, §2; spec B.2).

Every solver takes the stochastic matrix S = σ(A) (m, m) and the batch of inputs Φ (m, n) as columns, and
returns Z (m, n) with (I − γS)Z = Φ plus a :class:`SolverInfo` (iterations, relative residual).

* ``direct``: one LU factorisation of I − γS shared by the whole batch (and reused by the adjoint solve).
* ``fixed_point``: z ← γSz + φ. It converges for every A because ρ(γS) = γ < 1, with error ~ γ^k, so
  it needs about log(tol)/log γ iterations: fine at γ = 0.5, hopeless at γ = 0.999.
* ``anderson``, ``broyden``: quasi-Newton accelerations. Ours differ from torchdeq's (``backend="torchdeq"``
  calls torchdeq's own solvers) in two ways, both because the map is *linear and shared by the batch*:
  (1) the whole block Z is one unknown, so one set of mixing coefficients / one low-rank Jacobian is learnt
  from every column at once instead of a separate one per sample; (2) Anderson's mixing weights come from a
  least-squares solve (QR) instead of torchdeq's normal equations with a fixed ridge λ = 1e-4, which stalls
  near residual ~1e-6 in float64 once the residual differences fall below √λ; we need 1e-10.

The residual reported everywhere is ‖(I − γS)Z − Φ‖_F / ‖Φ‖_F; since ‖U‖₂ = ‖(I − γS)⁻¹‖₂ ≤ 1/(1 − γ),
the relative error of Z is at most residual / (1 − γ).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from netoptima.conventions import check_choice, check_int, check_real

__all__ = ["BACKENDS", "NotConverged", "SOLVERS", "SolverInfo", "check_gamma", "default_tol", "solve_equilibrium"]

SOLVERS = ("direct", "fixed_point", "anderson", "broyden")
BACKENDS = ("ours", "torchdeq")
DEFAULT_MAX_ITER = {"fixed_point": 2000, "anderson": 200, "broyden": 200}


@dataclass(frozen=True)
class SolverInfo:
    """What one equilibrium solve did.

    Arguments:
        solver: the solver's name (one of :data:`SOLVERS`).
        backend: ``"ours"`` or ``"torchdeq"``.
        iterations: applications of the map z ↦ γSz + φ (0 for ``direct``).
        residual: ‖(I − γS)Z − Φ‖_F / ‖Φ‖_F at the returned Z.
    """

    solver: str
    backend: str
    iterations: int
    residual: float


class NotConverged(RuntimeError):
    """An iterative equilibrium solver stopped above its tolerance; names the residual and iteration count."""

    def __init__(self, solver: str, iterations: int, residual: float, tol: float, gamma: float) -> None:
        self.solver, self.iterations, self.residual, self.tol = solver, iterations, residual, tol
        super().__init__(
            f"equilibrium solver {solver!r} did not converge: relative residual {residual:.3g} > tol {tol:.3g} "
            f"after {iterations} iterations (gamma={gamma:g}); raise max_iter, loosen tol, or use "
            "solver='direct' (exact) or 'anderson'")


def check_gamma(gamma: float) -> float:
    """Validate γ ∈ (0, 1): the open interval on which ρ(γσ(A)) = γ < 1 makes the equilibrium unique."""
    value = check_real("gamma", gamma, low=0.0, high=1.0, low_open=True)
    if value >= 1.0:
        raise ValueError(f"gamma must be a finite number in (0, 1) (open: ρ(γσ(A)) = γ must be < 1), got {gamma!r}")
    return value


def check_matrix(name: str, T: Any, *, ndim: int = 2) -> Tensor:
    """A finite real floating tensor with ``ndim`` dimensions, none empty (ValueError naming ``name``)."""
    if not isinstance(T, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(T).__name__}")
    if T.ndim != ndim or T.numel() == 0 or not T.is_floating_point():
        raise ValueError(f"{name} must be a non-empty {ndim}-D floating tensor, got shape {tuple(T.shape)} "
                         f"of {T.dtype}")
    if not bool(torch.isfinite(T.detach()).all()):
        raise ValueError(f"{name} must be finite, got {int((~torch.isfinite(T.detach())).sum())} NaN or infinite "
                         "entries")
    return T


def check_system(S: Any, Phi: Any) -> None:
    """S (m, m) and Phi (m, n): finite floating tensors of one dtype (the equilibrium Z = γSZ + Φ)."""
    check_matrix("S", S)
    check_matrix("Phi", Phi)
    if S.shape[0] != S.shape[1]:
        raise ValueError(f"S must be a square (m, m) matrix, got shape {tuple(S.shape)}")
    if Phi.shape[0] != S.shape[0]:
        raise ValueError(f"Phi must have shape (m, n) = ({S.shape[0]}, n) to match S, got {tuple(Phi.shape)}")
    if S.dtype != Phi.dtype:
        raise ValueError(f"S and Phi must have the same dtype, got {S.dtype} and {Phi.dtype}")


def default_tol(dtype: torch.dtype) -> float:
    """1e-11 in float64 (relative error ≤ 1e-11/(1 − γ) ≤ 1e-8 for γ ≤ 0.999), 1e-5 in float32."""
    return 1e-11 if dtype == torch.float64 else 1e-5


def _residual(S: Tensor, Phi: Tensor, Z: Tensor, gamma: float, scale: float) -> float:
    return float(torch.linalg.matrix_norm(Z - gamma * (S @ Z) - Phi)) / scale  # ‖(I−γS)Z − Φ‖_F / ‖Φ‖_F


def solve_equilibrium(S: Tensor, Phi: Tensor, *, gamma: float, solver: str = "direct", tol: float | None = None,
                      max_iter: int | None = None, backend: str = "ours",
                      Z0: Tensor | None = None) -> tuple[Tensor, SolverInfo]:
    """Solve Z = γSZ + Φ, i.e. Z = (I − γS)⁻¹Φ (spec B.2), without tracking gradients.

    Arguments:
        S: (m, m) matrix with spectral radius ≤ 1 (here σ(A), column or row stochastic).
        Phi: (m, n) right-hand sides, one column per sample.
        gamma: γ ∈ (0, 1).
        solver: one of :data:`SOLVERS`.
        tol: relative residual to reach (default :func:`default_tol` of the dtype); ignored by ``direct``.
        max_iter: iteration cap for iterative solvers (default :data:`DEFAULT_MAX_ITER`).
        backend: ``"ours"`` or ``"torchdeq"`` (torchdeq's solvers; ``direct`` is always ours).
        Z0: optional (m, n) warm start for iterative solvers (zeros by default).

    Returns:
        ``(Z, info)`` with Z of shape (m, n).

    Raises:
        ValueError: bad γ, solver, backend, tolerances or shapes; S, Phi not finite floating tensors of one dtype.
        NotConverged: an iterative solver ended with residual > tol (names residual and iterations).
    """
    gamma = check_gamma(gamma)
    check_choice("solver", solver, SOLVERS)
    check_choice("backend", backend, BACKENDS)
    check_system(S, Phi)
    tol = default_tol(Phi.dtype) if tol is None else check_real("tol", tol, low=0.0, low_open=True)
    with torch.no_grad():
        scale = float(torch.linalg.matrix_norm(Phi))
        if scale == 0.0:
            return torch.zeros_like(Phi), SolverInfo(solver, backend, 0, 0.0)
        if solver == "direct":
            I = torch.eye(S.shape[0], dtype=S.dtype, device=S.device)  # noqa: E741
            Z = torch.linalg.solve(I - gamma * S, Phi)  # (m, n)
            return Z, SolverInfo(solver, "ours", 0, _residual(S, Phi, Z, gamma, scale))
        max_iter = DEFAULT_MAX_ITER[solver] if max_iter is None else check_int("max_iter", max_iter, low=1)
        if Z0 is not None and Z0.shape != Phi.shape:
            raise ValueError(f"Z0 must have the shape of Phi {tuple(Phi.shape)}, got {tuple(Z0.shape)}")
        Z0 = torch.zeros_like(Phi) if Z0 is None else Z0

        def g(Z: Tensor) -> Tensor:
            return gamma * (S @ Z) + Phi  # (m, n): one application of the tied layer

        if backend == "torchdeq":
            Z, iters = _torchdeq(g, Phi, Z0, solver, tol, max_iter)
        else:
            Z, iters = {"fixed_point": _fixed_point, "anderson": _anderson, "broyden": _broyden}[solver](
                g, Z0, tol * scale, max_iter)
        res = _residual(S, Phi, Z, gamma, scale)
        if not math.isfinite(res) or res > tol:
            raise NotConverged(solver if backend == "ours" else f"torchdeq:{solver}", iters, res, tol, gamma)
        return Z, SolverInfo(solver, backend, iters, res)


def _fixed_point(g: Callable[[Tensor], Tensor], Z: Tensor, atol: float, max_iter: int) -> tuple[Tensor, int]:
    """Plain iteration z_{k+1} = g(z_k); the residual ‖g(z) − z‖ is free from the step itself."""
    for k in range(1, max_iter + 1):
        Zn = g(Z)
        if float(torch.linalg.matrix_norm(Zn - Z)) <= atol:
            return Zn, k  # ‖g(Zn) − Zn‖ = ‖γS(Zn − Z)‖ ≤ ‖Zn − Z‖ for ‖S‖₂ ≤ 1, re-checked by the caller anyway
        Z = Zn
    return Z, max_iter


def _anderson(g: Callable[[Tensor], Tensor], Z: Tensor, atol: float, max_iter: int,
              memory: int = 30) -> tuple[Tensor, int]:
    """Type-II Anderson acceleration on the whole block (Walker & Ni 2011), mixing β = 1, lstsq weights.

    On a linear map Anderson with unlimited memory is GMRES; 30 differences keep it near that when σ(A) is far
    from uniform (spread spectrum), where 8 (torchdeq's 6) stalls above 1e-8 at γ = 0.999 and m = 256.
    """
    shape = Z.shape
    x = Z.reshape(-1)  # (p,) with p = m n: the batch is one unknown
    f = g(x.view(shape)).reshape(-1) - x  # residual g(x) − x
    dX: list[Tensor] = []
    dF: list[Tensor] = []
    for k in range(1, max_iter + 1):
        if float(f.norm()) <= atol:
            return x.view(shape), k - 1
        if dF:
            DF = torch.stack(dF, dim=1)  # (p, j)
            DX = torch.stack(dX, dim=1)  # (p, j)
            alpha = torch.linalg.lstsq(DF, f.unsqueeze(1)).solution.squeeze(1)  # (j,) argmin ‖f − DF α‖
            x_new = x + f - (DX + DF) @ alpha
        else:
            x_new = x + f  # first step: plain fixed-point
        f_new = g(x_new.view(shape)).reshape(-1) - x_new
        dX.append(x_new - x)
        dF.append(f_new - f)
        if len(dX) > memory:
            dX.pop(0)
            dF.pop(0)
        x, f = x_new, f_new
    return x.view(shape), max_iter


def _broyden(g: Callable[[Tensor], Tensor], Z: Tensor, atol: float, max_iter: int) -> tuple[Tensor, int]:
    """"Good" Broyden on F(x) = g(x) − x with the inverse Jacobian kept as −I + Σ u_i v_iᵀ (Broyden 1965)."""
    shape = Z.shape
    x = Z.reshape(-1)  # (p,)
    F = g(x.view(shape)).reshape(-1) - x
    us: list[Tensor] = []
    vs: list[Tensor] = []

    def Hmul(v: Tensor) -> Tensor:  # H v with H = −I + Σ u_i v_iᵀ
        out = -v
        for u, w in zip(us, vs, strict=True):
            out = out + u * torch.dot(w, v)
        return out

    def HTmul(v: Tensor) -> Tensor:  # Hᵀ v
        out = -v
        for u, w in zip(us, vs, strict=True):
            out = out + w * torch.dot(u, v)
        return out

    for k in range(1, max_iter + 1):
        if float(F.norm()) <= atol:
            return x.view(shape), k - 1
        s = -Hmul(F)  # quasi-Newton step
        x_new = x + s
        F_new = g(x_new.view(shape)).reshape(-1) - x_new
        y = F_new - F
        Hy = Hmul(y)
        sHy = torch.dot(s, Hy)
        if float(sHy.abs()) > 1e-300:  # Sherman-Morrison rank-one update of the inverse Jacobian
            v = HTmul(s)  # before appending u: H must stay the pre-update matrix here
            us.append((s - Hy) / sHy)
            vs.append(v)
        x, F = x_new, F_new
    return x.view(shape), max_iter


def _torchdeq(g: Callable[[Tensor], Tensor], Phi: Tensor, Z0: Tensor, solver: str, tol: float,
              max_iter: int) -> tuple[Tensor, int]:
    """torchdeq's solver on the batch-first problem (n, m); one history per sample, as torchdeq does."""
    from torchdeq.solver import get_solver

    name = {"fixed_point": "fixed_point_iter", "anderson": "anderson", "broyden": "broyden"}[solver]
    # torchdeq stops on max_i ‖g(z_i) − z_i‖ < tol_abs; tol‖φ_i‖ per sample implies our Frobenius criterion
    atol = tol * float(Phi.norm(dim=0).min())
    zb, _, info = get_solver(name)(lambda zb: g(zb.T).T, Z0.T.contiguous(), max_iter=max_iter, tol=atol,
                                   stop_mode="abs")
    return zb.T.contiguous(), int(info["nstep"].max())
