"""The quadratic-activation network, its losses (value, gradient, Fenchel conjugate) and input checks.

Bartan & Pilanci, "Neural Spectrahedra and Semidefinite Lifts", §3.1 of the spec: f(x) = Σ_j α_j σ(xᵀu_j),
σ(t) = a t² + b t + c, ‖u_j‖ = 1, trained on ℓ(f(X), y) + β Σ_j |α_j|.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from netoptima.conventions import check_choice, check_int, check_memory, check_positive, check_real

__all__ = [
    "LOSSES", "PAPER_ACTIVATION", "RELU_FIT_ACTIVATION", "QuadraticActivationNet", "as_activation", "as_data",
    "loss_conjugate", "loss_grad", "loss_value", "objective", "torch_loss",
]

# (a, b, c) of the official demo notebook (spec §3.4): roughly the least-squares quadratic fit of ReLU.
PAPER_ACTIVATION: tuple[float, float, float] = (0.09, 0.5, 0.47)
# (3/32, 1/2, 15/32), the variant used by the spec's certificate check and MNIST pilot (§3.6).
RELU_FIT_ACTIVATION: tuple[float, float, float] = (3 / 32, 1 / 2, 15 / 32)
LOSSES: tuple[str, ...] = ("squared", "l1", "huber")


def as_activation(activation: Any) -> tuple[float, float, float]:
    """Validate ``(a, b, c)`` of σ(t) = a t² + b t + c: three finite numbers, not all zero."""
    if isinstance(activation, Tensor):
        activation = activation.tolist()
    if isinstance(activation, (str, bytes)) or not isinstance(activation, Sequence) or len(activation) != 3:
        raise ValueError(f"activation must be a triple (a, b, c) of σ(t) = a t² + b t + c, got {activation!r}")
    a, b, c = (check_real(f"activation[{i}]", x) for i, x in enumerate(activation))
    if a == b == c == 0:
        raise ValueError("activation must not be (0, 0, 0): σ would vanish identically")
    return a, b, c


def as_data(X: Any, y: Any | None = None, *, name_x: str = "X", name_y: str = "y",
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate and convert data to float64 NumPy: ``X`` (n, d) finite, ``y`` (n,) finite (optional).

    Raises:
        ValueError: naming the argument when a shape is wrong, ``n`` differs, or a value is NaN/inf.
    """
    Xn = _to_numpy(X, name_x)
    if Xn.ndim != 2 or Xn.shape[0] < 1 or Xn.shape[1] < 1:
        raise ValueError(f"{name_x} must be a 2-D array of shape (n, d) with n, d >= 1, got shape {Xn.shape}")
    _check_finite(Xn, name_x)
    if y is None:
        return Xn, None
    yn = _to_numpy(y, name_y)
    if yn.ndim == 2 and yn.shape[1] == 1:
        yn = yn[:, 0]
    if yn.ndim != 1 or yn.shape[0] != Xn.shape[0]:
        raise ValueError(f"{name_y} must have shape ({Xn.shape[0]},) to match {name_x} of shape {Xn.shape}, "
                         f"got shape {yn.shape}")
    _check_finite(yn, name_y)
    return Xn, yn


def _to_numpy(a: Any, name: str) -> np.ndarray:
    if isinstance(a, Tensor):
        a = a.detach().cpu().numpy()
    try:
        out = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array or tensor, got {type(a).__name__}") from None
    return out


def _check_finite(a: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite, but {bad.sum()} entr{'y is' if bad.sum() == 1 else 'ies are'} "
                         f"NaN or inf (first at index {idx}: {a[idx]})")


class QuadraticActivationNet(nn.Module):
    """f(x) = Σ_j α_j σ(xᵀu_j), σ(t) = a t² + b t + c, unit-norm u_j (Bartan & Pilanci, §3.1).

    Arguments:
        d: input dimension (>= 1).
        width: number of neurons m (>= 0; a width-0 net predicts 0).
        activation: ``(a, b, c)``; stored in the ``activation`` buffer so a saved state dict is self-contained.
        generator: RNG for the initial neurons (u_j uniform on the sphere, α_j ~ N(0, init_scale²/m)).
        init_scale: scale of the initial output weights.
        dtype: parameter dtype (float64 by default: certificates compare objectives to 1e-7).

    Parameters ``U`` (m, d) and ``alpha`` (m,). The forward pass does not renormalise ``U``; call
    :meth:`project_` after a gradient step (the constraint ‖u_j‖ = 1 is part of the problem).
    """

    def __init__(self, d: int, width: int, *, activation: Sequence[float] = PAPER_ACTIVATION,
                 generator: torch.Generator | None = None, init_scale: float = 1.0,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        d = check_int("d", d, low=1)
        width = check_int("width", width, low=0)
        act = as_activation(activation)
        init_scale = check_real("init_scale", init_scale, low=0.0)
        dtype = check_choice("dtype", dtype, [torch.float32, torch.float64])
        check_memory(f"QuadraticActivationNet(d={d}, width={width})", (width, d), dtype=dtype)
        U = torch.randn(width, d, generator=generator, dtype=dtype)  # (m, d)
        U = U / U.norm(dim=1, keepdim=True).clamp_min(1e-300)
        alpha = torch.randn(width, generator=generator, dtype=dtype) * init_scale / math.sqrt(max(width, 1))  # (m,)
        self.U = nn.Parameter(U)
        self.alpha = nn.Parameter(alpha)
        self.register_buffer("activation", torch.tensor(act, dtype=dtype))

    @classmethod
    def from_neurons(cls, U: Any, alpha: Any, *, activation: Sequence[float],
                     dtype: torch.dtype = torch.float64) -> QuadraticActivationNet:
        """A net with given neurons ``U`` (m, d) (rows are normalised) and output weights ``alpha`` (m,)."""
        Un = _to_numpy(U, "U")
        an = _to_numpy(alpha, "alpha").reshape(-1)
        if Un.ndim != 2 or Un.shape[0] != an.shape[0]:
            raise ValueError(f"U must have shape (m, d) and alpha shape (m,), got {Un.shape} and {an.shape}")
        _check_finite(Un, "U")
        _check_finite(an, "alpha")
        norms = np.linalg.norm(Un, axis=1)
        if (norms == 0).any():
            raise ValueError(f"U has {int((norms == 0).sum())} zero row(s); neurons must be nonzero")
        net = cls(Un.shape[1], Un.shape[0], activation=activation, dtype=dtype)
        with torch.no_grad():
            net.U.copy_(torch.as_tensor(Un / norms[:, None], dtype=dtype))
            net.alpha.copy_(torch.as_tensor(an, dtype=dtype))
        return net

    @property
    def d(self) -> int:
        return self.U.shape[1]

    @property
    def width(self) -> int:
        return self.U.shape[0]

    @property
    def abc(self) -> tuple[float, float, float]:
        a, b, c = self.activation.tolist()
        return a, b, c

    def sigma(self, t: Tensor) -> Tensor:
        """σ(t) = a t² + b t + c, elementwise."""
        a, b, c = self.activation
        return (a * t + b) * t + c

    def features(self, X: Tensor) -> Tensor:
        """σ(X U ᵀ): the (n, m) matrix of neuron outputs."""
        return self.sigma(X @ self.U.T)  # (n, m)

    def forward(self, X: Tensor) -> Tensor:
        return self.features(X) @ self.alpha  # (n,)

    def penalty(self) -> Tensor:
        """Σ_j |α_j|, the ℓ1 penalty of the spec's objective."""
        return self.alpha.abs().sum()

    @torch.no_grad()
    def project_(self) -> QuadraticActivationNet:
        """Put every u_j back on the unit sphere (in place); returns ``self``."""
        self.U.div_(self.U.norm(dim=1, keepdim=True).clamp_min(1e-300))
        return self

    def max_norm_error(self) -> float:
        """max_j |‖u_j‖ − 1| (0 for width 0)."""
        if self.width == 0:
            return 0.0
        return float((self.U.detach().norm(dim=1) - 1).abs().max())


# ---------------------------------------------------------------------------------------------------- losses
# ℓ(ŷ) = Σ_i h(ŷ_i − y_i): squared h = ½r², l1 h = |r|, huber h = ½r² (|r| ≤ δ) else δ|r| − ½δ².
# Conjugates ℓ*(w) = wᵀy + Σ h*(w_i): ½w², indicator(|w| ≤ 1), ½w² + indicator(|w| ≤ δ).


def loss_value(yhat: np.ndarray, y: np.ndarray, loss: str = "squared", *, delta: float = 1.0) -> float:
    """ℓ(ŷ, y) for ``loss`` in {squared (½‖r‖²), l1 (‖r‖₁), huber(δ)}, r = ŷ − y."""
    r = yhat - y
    if loss == "squared":
        return 0.5 * float(r @ r)
    if loss == "l1":
        return float(np.abs(r).sum())
    if loss == "huber":
        ar = np.abs(r)
        return float(np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta)).sum())
    raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}")


def loss_grad(yhat: np.ndarray, y: np.ndarray, loss: str = "squared", *, delta: float = 1.0) -> np.ndarray:
    """∇ŷ ℓ (a subgradient for l1: sign(r), 0 where r = 0): the candidate dual point of the certificate."""
    r = yhat - y
    if loss == "squared":
        return r
    if loss == "l1":
        return np.sign(r)
    if loss == "huber":
        return np.clip(r, -delta, delta)
    raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}")


def loss_conjugate(w: np.ndarray, y: np.ndarray, loss: str = "squared", *, delta: float = 1.0) -> float:
    """ℓ*(w) = sup_ŷ wᵀŷ − ℓ(ŷ, y) (``inf`` outside its domain)."""
    if loss == "squared":
        return float(w @ y + 0.5 * w @ w)
    if loss == "l1":
        return float(w @ y) if np.abs(w).max(initial=0.0) <= 1 + 1e-12 else math.inf
    if loss == "huber":
        return float(w @ y + 0.5 * w @ w) if np.abs(w).max(initial=0.0) <= delta * (1 + 1e-12) else math.inf
    raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}")


def torch_loss(yhat: Tensor, y: Tensor, loss: str = "squared", *, delta: float = 1.0) -> Tensor:
    """The same ℓ in torch (summed, not averaged), for backprop."""
    if loss == "squared":
        return 0.5 * (yhat - y).pow(2).sum()
    if loss == "l1":
        return (yhat - y).abs().sum()
    if loss == "huber":
        return torch.nn.functional.huber_loss(yhat, y, reduction="sum", delta=delta)
    raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}")


def check_loss(loss: str, delta: float) -> tuple[str, float]:
    return check_choice("loss", loss, LOSSES), check_positive("delta", delta)


def objective(net: QuadraticActivationNet, X: Any, y: Any, *, beta: float, loss: str = "squared",
              delta: float = 1.0) -> float:
    """ℓ(f(X), y) + β Σ|α_j| in float64 (the training objective of §3.1).

    Arguments:
        net: the network (its rows u_j are used as they are).
        X: inputs (n, d); y: targets (n,).
        beta: ℓ1 weight β > 0.
        loss: ``"squared"`` (½‖·‖²), ``"l1"`` or ``"huber"`` (threshold ``delta``).

    Returns:
        The objective value as a float.
    """
    beta = check_positive("beta", beta)
    loss, delta = check_loss(loss, delta)
    Xn, yn = as_data(X, y)
    if Xn.shape[1] != net.d:
        raise ValueError(f"X has {Xn.shape[1]} features but the net expects d = {net.d}")
    U, alpha = net_arrays(net)
    yhat = features_np(Xn, U, net.abc) @ alpha  # (n,)
    return loss_value(yhat, yn, loss, delta=delta) + beta * float(np.abs(alpha).sum())


def net_arrays(net: QuadraticActivationNet) -> tuple[np.ndarray, np.ndarray]:
    """(U, alpha) of a net as float64 NumPy arrays."""
    return (net.U.detach().cpu().to(torch.float64).numpy().copy(),
            net.alpha.detach().cpu().to(torch.float64).numpy().copy())


def features_np(X: np.ndarray, U: np.ndarray, abc: tuple[float, float, float]) -> np.ndarray:
    """σ(X Uᵀ) in NumPy: (n, m)."""
    a, b, c = abc
    T = X @ U.T  # (n, m)
    return (a * T + b) * T + c
