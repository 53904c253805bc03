"""The deep equilibrium linear model f(x) = B (I − γσ(A))⁻¹ φ(x) with implicit gradients (Kawaguchi 2021, §2).

z^{(l)} = γσ(A)z^{(l−1)} + φ(x) with one tied weight A for every layer; its limit z* = Uφ(x),
U = (I − γσ(A))⁻¹, exists for every A because σ(A) is stochastic, so ρ(γσ(A)) = γ < 1 (spec B.2).

Gradients never go through solver iterations: :class:`ImplicitEquilibrium` differentiates the fixed point
with one adjoint solve (I − γσ(A))ᵀV = ∂L/∂Z (spec B.4), giving ∂L/∂σ(A) = γVZᵀ and ∂L/∂Φ = V.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from netoptima.conventions import check_choice, check_int, check_memory, check_real
from netoptima.deq.solvers import (
    BACKENDS,
    SOLVERS,
    SolverInfo,
    check_gamma,
    check_matrix,
    check_system,
    solve_equilibrium,
)

__all__ = ["DEQLinear", "ImplicitEquilibrium", "NORMALIZE", "equilibrium", "stochastic", "unrolled_equilibrium"]

NORMALIZE = ("column", "row")


def stochastic(A: Tensor, *, normalize: str = "column") -> Tensor:
    """σ(A): softmax of the weight matrix, column-stochastic σ_ij = e^{A_ij}/Σ_k e^{A_kj} by default (spec B.2).

    Arguments:
        A: (m, m) weight matrix.
        normalize: ``"column"`` (columns sum to 1, the paper's σ) or ``"row"`` (rows sum to 1).

    Returns:
        (m, m) stochastic matrix with spectral radius exactly 1.
    """
    check_choice("normalize", normalize, NORMALIZE)
    check_matrix("A", A)
    return torch.softmax(A, dim=0 if normalize == "column" else 1)


class ImplicitEquilibrium(torch.autograd.Function):
    """Z = (I − γS)⁻¹Φ with the implicit-function-theorem backward (spec B.4), never through iterations."""

    @staticmethod
    def forward(ctx: Any, S: Tensor, Phi: Tensor, gamma: float, solver: str, tol: float | None,
                max_iter: int | None, backend: str, info_out: list[SolverInfo]) -> Tensor:
        if solver == "direct":
            # one LU of I − γS, reused by the adjoint solve in backward
            I = torch.eye(S.shape[0], dtype=S.dtype, device=S.device)  # noqa: E741
            LU, pivots = torch.linalg.lu_factor(I - gamma * S)
            Z = torch.linalg.lu_solve(LU, pivots, Phi)  # (m, n)
            scale = float(torch.linalg.matrix_norm(Phi)) or 1.0
            res = float(torch.linalg.matrix_norm(Z - gamma * (S @ Z) - Phi)) / scale
            info = SolverInfo("direct", "ours", 0, res)
            ctx.save_for_backward(S, Z, LU, pivots)
        else:
            Z, info = solve_equilibrium(S, Phi, gamma=gamma, solver=solver, tol=tol, max_iter=max_iter,
                                        backend=backend)
            ctx.save_for_backward(S, Z)
        ctx.gamma, ctx.solver, ctx.tol, ctx.max_iter, ctx.backend = gamma, solver, tol, max_iter, backend
        info_out.append(info)
        return Z

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, gZ: Tensor) -> tuple[Tensor | None, ...]:
        gamma = ctx.gamma
        if ctx.solver == "direct":
            S, Z, LU, pivots = ctx.saved_tensors
            V = torch.linalg.lu_solve(LU, pivots, gZ, adjoint=True)  # (m, n): (I − γS)ᵀ V = ∂L/∂Z
        else:
            S, Z = ctx.saved_tensors
            # the adjoint system is the same kind of equilibrium with Sᵀ: V = γSᵀV + ∂L/∂Z
            V, _ = solve_equilibrium(S.T, gZ, gamma=gamma, solver=ctx.solver, tol=ctx.tol, max_iter=ctx.max_iter,
                                     backend=ctx.backend)
        gS = gamma * (V @ Z.T) if ctx.needs_input_grad[0] else None  # (m, m): dZ = U(γ dS Z + dΦ)
        gPhi = V if ctx.needs_input_grad[1] else None  # (m, n)
        return gS, gPhi, None, None, None, None, None, None


def equilibrium(S: Tensor, Phi: Tensor, *, gamma: float, solver: str = "direct", tol: float | None = None,
                max_iter: int | None = None, backend: str = "ours") -> tuple[Tensor, SolverInfo]:
    """Differentiable Z = (I − γS)⁻¹Φ: root-finding forward, one adjoint solve backward (spec B.2, B.4).

    Arguments:
        S: (m, m) stochastic matrix σ(A) (may require grad).
        Phi: (m, n) inputs as columns (may require grad).
        gamma: γ ∈ (0, 1).
        solver: one of ``direct``, ``fixed_point``, ``anderson``, ``broyden``; the backward uses the same one.
        tol, max_iter, backend: see :func:`netoptima.deq.solvers.solve_equilibrium`.

    Returns:
        ``(Z, info)``: Z (m, n) and the forward solve's :class:`SolverInfo`.
    """
    gamma = check_gamma(gamma)
    check_choice("solver", solver, SOLVERS)
    check_choice("backend", backend, BACKENDS)
    check_system(S, Phi)
    info: list[SolverInfo] = []
    Z = ImplicitEquilibrium.apply(S, Phi, gamma, solver, tol, max_iter, backend, info)
    return Z, info[0]


def unrolled_equilibrium(S: Tensor, Phi: Tensor, *, gamma: float, depth: int) -> Tensor:
    """z^{(H)} of the depth-H weight-tied network z^{(l)} = γSz^{(l−1)} + Φ, z^{(0)} = 0, differentiable by autograd.

    The explicit counterpart of :func:`equilibrium`: its error, and its autograd gradient's error, decay like
    γ^H (spec B.4).

    Arguments:
        S: (m, m); Phi: (m, n); gamma: γ ∈ (0, 1); depth: H ≥ 1.

    Returns:
        (m, n) tensor z^{(H)}.
    """
    gamma = check_gamma(gamma)
    depth = check_int("depth", depth, low=1)
    check_system(S, Phi)
    Z = Phi
    for _ in range(depth - 1):
        Z = gamma * (S @ Z) + Phi  # (m, n)
    return Z


class DEQLinear(nn.Module):
    """Deep equilibrium linear model f(x) = B(I − γσ(A))⁻¹φ(x) (Kawaguchi 2021, eq. 1-2; spec B.2).

    Parameters: A (m, m), the weight tied across the infinitely many layers, and B (out, m). φ is fixed: the
    identity (then m = in_features) or a random projection R (m, in), so the width m may be smaller than the
    output dimension and the number of samples.

    Arguments:
        in_features: input dimension d.
        out_features: output dimension m_y.
        width: m (default ``in_features``; must equal it when ``feature_map`` is the identity).
        gamma: γ ∈ (0, 1).
        feature_map: ``None`` (identity), ``"random"`` (fixed R with N(0, 1/d) entries) or an (m, d) tensor.
        normalize: σ as column (default) or row softmax.
        solver, tol, max_iter, backend: the equilibrium solver (see :func:`equilibrium`).
        a_std: standard deviation of the N(0, a_std²) init of A (0 gives σ(A) = 11ᵀ/m).
        b_std: standard deviation of B's init (default 1/√m).
        generator: ``torch.Generator`` for the init (and for R).
        dtype: parameter dtype (torch's default when ``None``).
    """

    def __init__(self, in_features: int, out_features: int, *, width: int | None = None, gamma: float = 0.8,
                 feature_map: str | Tensor | None = None, normalize: str = "column", solver: str = "direct",
                 tol: float | None = None, max_iter: int | None = None, backend: str = "ours",
                 a_std: float = 1.0, b_std: float | None = None, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, low=1)
        self.out_features = check_int("out_features", out_features, low=1)
        self.gamma = check_gamma(gamma)
        self.normalize = check_choice("normalize", normalize, NORMALIZE)
        self.solver = check_choice("solver", solver, SOLVERS)
        self.backend = check_choice("backend", backend, BACKENDS)
        self.tol = None if tol is None else check_real("tol", tol, low=0.0, low_open=True)
        self.max_iter = None if max_iter is None else check_int("max_iter", max_iter, low=1)
        dtype = check_choice("dtype", dtype, [None, torch.float32, torch.float64]) or torch.get_default_dtype()
        a_std = check_real("a_std", a_std, low=0.0)
        if isinstance(feature_map, Tensor):
            if feature_map.ndim != 2 or feature_map.shape[1] != in_features:
                raise ValueError(f"feature_map must be an (m, in_features) = (m, {in_features}) tensor, "
                                 f"got shape {tuple(feature_map.shape)}")
            if width is not None and width != feature_map.shape[0]:
                raise ValueError(f"width={width!r} does not match feature_map's {feature_map.shape[0]} rows")
            width = feature_map.shape[0]
            self.register_buffer("R", feature_map.detach().to(dtype).clone())
        elif feature_map == "random":
            width = check_int("width", width, low=1) if width is not None else in_features
            check_memory(f"DEQLinear(width={width})", (width, in_features), (width, width), dtype=dtype)
            R = torch.randn(width, in_features, generator=generator, dtype=dtype) / math.sqrt(in_features)
            self.register_buffer("R", R)  # (m, d), fixed
        elif feature_map is None:
            if width is not None and width != in_features:
                raise ValueError(f"width must equal in_features={in_features} when feature_map is None (identity); "
                                 f"got width={width!r}; use feature_map='random' for another width")
            width = in_features
            self.R = None
        else:
            raise ValueError(f"feature_map must be None, 'random' or an (m, in_features) tensor, got {feature_map!r}")
        self.width = check_int("width", width, low=1)
        check_memory(f"DEQLinear(width={self.width})", (self.width, self.width), (out_features, self.width),
                     dtype=dtype)
        b_std = 1.0 / math.sqrt(self.width) if b_std is None else check_real("b_std", b_std, low=0.0)
        self.A = nn.Parameter(a_std * torch.randn(self.width, self.width, generator=generator, dtype=dtype))  # (m, m)
        self.B = nn.Parameter(b_std * torch.randn(out_features, self.width, generator=generator, dtype=dtype))
        self.last_info: SolverInfo | None = None

    def extra_repr(self) -> str:
        fm = "identity" if self.R is None else "projection"
        return (f"in_features={self.in_features}, out_features={self.out_features}, width={self.width}, "
                f"gamma={self.gamma:g}, feature_map={fm}, normalize={self.normalize!r}, solver={self.solver!r}")

    def sigma(self) -> Tensor:
        """σ(A), (m, m)."""
        return stochastic(self.A, normalize=self.normalize)

    def features(self, x: Tensor) -> Tensor:
        """φ(x) as rows: (n, d) → (n, m)."""
        x = self._check_input(x)
        return x if self.R is None else x @ self.R.T  # (n, m)

    def equilibrium_point(self, x: Tensor) -> Tensor:
        """z* = (I − γσ(A))⁻¹φ(x) for a batch, as rows (n, m), differentiable implicitly."""
        Phi = self.features(x).T  # (m, n): samples as columns
        Z, self.last_info = equilibrium(self.sigma(), Phi, gamma=self.gamma, solver=self.solver, tol=self.tol,
                                        max_iter=self.max_iter, backend=self.backend)
        return Z.T  # (n, m)

    def forward(self, x: Tensor) -> Tensor:
        """f(x) = Bz*, (n, d) → (n, out) (a single (d,) input gives (out,))."""
        single = x.ndim == 1
        out = self.equilibrium_point(x.unsqueeze(0) if single else x) @ self.B.T  # (n, out)
        return out[0] if single else out

    def weight(self) -> Tensor:
        """The end-to-end linear map W = BU (out, m), with U = (I − γσ(A))⁻¹, differentiable implicitly.

        Wᵀ = (I − γσ(A)ᵀ)⁻¹Bᵀ is the same kind of equilibrium with σ(A)ᵀ and the m_y columns of Bᵀ, so it costs
        one m × m solve whatever the batch size; ``features(x) @ weight().T`` equals ``forward(x)``.
        """
        Wt, self.last_info = equilibrium(self.sigma().T, self.B.T, gamma=self.gamma, solver=self.solver,
                                         tol=self.tol, max_iter=self.max_iter, backend=self.backend)
        return Wt.T  # (out, m)

    def U(self) -> Tensor:
        """U = (I − γσ(A))⁻¹ explicitly (m, m), for analysis (λ_min(UᵀU), preconditioners)."""
        m = self.width
        I = torch.eye(m, dtype=self.A.dtype, device=self.A.device)  # noqa: E741
        return torch.linalg.solve(I - self.gamma * self.sigma(), I)

    def _check_input(self, x: Tensor) -> Tensor:
        if x.ndim == 1:
            x = x.unsqueeze(0)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (n, {self.in_features}) or ({self.in_features},), "
                             f"got {tuple(x.shape)}")
        return x.to(self.A.dtype)

