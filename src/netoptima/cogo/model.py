"""The CoGO model: one-hot pairs → Σ_j c_j (a_j[g1] + b_j[g2])² (Tian 2024, Sec. 3; spec §1).

Weights follow the official code (``ModularAdditionNN``): ``W_a, W_b`` of shape (q, d) act on the one-hot
operands, ``W_c`` of shape (d, q) maps the squared hidden layer to the d outputs, no biases anywhere.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from netoptima.conventions import check_choice, check_int, check_real

__all__ = [
    "QuadraticNet",
    "Weights",
    "check_odd_modulus",
    "check_weights",
    "default_init",
    "grid_outputs",
    "grid_targets",
    "pair_loss",
    "projected_l2_loss",
    "train_test_indices",
]

Weights = tuple[Tensor, Tensor, Tensor]  # (W_a (q, d), W_b (q, d), W_c (d, q)); a leading seed axis is allowed


def check_odd_modulus(d: int, *, low: int = 3) -> int:
    """Validate the modulus of a construction: an odd integer ≥ ``low`` (Fourier blocks pair k with −k)."""
    d = check_int("d", d, low=low)
    if d % 2 == 0:
        raise ValueError(f"d must be an odd integer >= {low} (frequencies k and -k must differ), got {d}")
    return d


def check_weights(weights: Weights, *, batched: bool | None = False) -> tuple[int, int]:
    """Validate ``(W_a, W_b, W_c)`` shapes and return ``(d, q)``.

    Arguments:
        weights: real tensors ``W_a (…, q, d)``, ``W_b (…, q, d)``, ``W_c (…, d, q)``.
        batched: whether a leading seed axis is expected (``None``: either).
    """
    if not (isinstance(weights, (tuple, list)) and len(weights) == 3
            and all(isinstance(w, Tensor) for w in weights)):
        raise ValueError("weights must be a tuple of three tensors (W_a, W_b, W_c), got "
                         f"{type(weights).__name__}")
    W_a, W_b, W_c = weights
    if batched is None:
        batched = W_a.ndim == 3
    nd = 3 if batched else 2
    if W_a.ndim != nd or W_b.shape != W_a.shape or W_c.shape != (*W_a.shape[:-2], W_a.shape[-1], W_a.shape[-2]):
        raise ValueError(f"weights must have shapes W_a {'(S, q, d)' if batched else '(q, d)'}, W_b the same, "
                         f"W_c {'(S, d, q)' if batched else '(d, q)'}; got {tuple(W_a.shape)}, "
                         f"{tuple(W_b.shape)}, {tuple(W_c.shape)}")
    if W_a.is_complex() or W_b.is_complex() or W_c.is_complex():
        raise ValueError("weights must be real tensors (use Solution.to_weights for Fourier blocks)")
    return int(W_a.shape[-1]), int(W_a.shape[-2])


def default_init(d: int, width: int, seed: int, *, dtype: torch.dtype = torch.float32) -> Weights:
    """PyTorch's default init drawn exactly as ``ModularAdditionNN`` draws it after ``manual_seed(seed)``.

    The official model first builds a frozen ``nn.Embedding(d, d)`` (d² normal draws), then ``nn.Linear``
    layers a, b, c with U(±1/√fan_in); we consume the same stream, so seed s gives the paper code's network.

    Arguments:
        d: modulus (≥ 2). width: hidden nodes q (≥ 1). seed: torch seed (≥ 0). dtype: of the result.

    Returns:
        ``(W_a (q, d), W_b (q, d), W_c (d, q))``.
    """
    d, width = check_int("d", d, low=2), check_int("width", width, low=1)
    seed = check_int("seed", seed, low=0)
    gen = torch.Generator().manual_seed(seed)
    torch.empty(d, d).normal_(generator=gen)  # the embedding's draw, discarded
    W_a = torch.empty(width, d).uniform_(-1 / math.sqrt(d), 1 / math.sqrt(d), generator=gen)  # (q, d)
    W_b = torch.empty(width, d).uniform_(-1 / math.sqrt(d), 1 / math.sqrt(d), generator=gen)  # (q, d)
    W_c = torch.empty(d, width).uniform_(-1 / math.sqrt(width), 1 / math.sqrt(width), generator=gen)  # (d, q)
    return W_a.to(dtype), W_b.to(dtype), W_c.to(dtype)


class QuadraticNet(nn.Module):
    """o(g1, g2) = W_c σ(W_a e_{g1} + W_b e_{g2}), σ(x) = x², no bias (Tian 2024 Sec. 3; spec §1).

    Arguments:
        d: modulus / one-hot size (≥ 2).
        width: hidden nodes q (≥ 1).
        seed: seed of the default init (see :func:`default_init`); ``None`` draws from torch's global RNG.
        weights: explicit ``(W_a, W_b, W_c)`` instead of a random init (copied).
        dtype: ``torch.float32`` (default) or ``torch.float64``.
    """

    def __init__(self, d: int, width: int, *, seed: int | None = None, weights: Weights | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        d, width = check_int("d", d, low=2), check_int("width", width, low=1)
        check_choice("dtype", dtype, [torch.float32, torch.float64])
        if weights is None:
            s = int(torch.randint(0, 2**31 - 1, ())) if seed is None else seed
            weights = default_init(d, width, s, dtype=dtype)
        elif check_weights(weights) != (d, width):
            raise ValueError(f"weights have (d, q) = {check_weights(weights)}, expected ({d}, {width})")
        self.d, self.width = d, width
        self.W_a = nn.Parameter(weights[0].detach().to(dtype).clone())  # (q, d)
        self.W_b = nn.Parameter(weights[1].detach().to(dtype).clone())  # (q, d)
        self.W_c = nn.Parameter(weights[2].detach().to(dtype).clone())  # (d, q)

    @classmethod
    def from_weights(cls, weights: Weights) -> QuadraticNet:
        """A net holding copies of ``(W_a, W_b, W_c)`` (dtype kept)."""
        d, q = check_weights(weights)
        dtype = weights[0].dtype if weights[0].dtype in (torch.float32, torch.float64) else torch.float32
        return cls(d, q, weights=weights, dtype=dtype)

    @property
    def weights(self) -> Weights:
        return self.W_a, self.W_b, self.W_c

    def forward(self, x: Tensor) -> Tensor:
        """Outputs for integer pairs ``(N, 2)`` or concatenated one-hots ``(N, 2d)``; returns ``(N, d)``."""
        if x.dtype.is_floating_point:
            if x.ndim != 2 or x.shape[1] != 2 * self.d:
                raise ValueError(f"one-hot input must have shape (N, {2 * self.d}), got {tuple(x.shape)}")
            h = x[:, : self.d] @ self.W_a.T + x[:, self.d:] @ self.W_b.T  # (N, q)
        else:
            if x.ndim != 2 or x.shape[1] != 2:
                raise ValueError(f"pair input must have shape (N, 2), got {tuple(x.shape)}")
            h = self.W_a.T[x[:, 0]] + self.W_b.T[x[:, 1]]  # (N, q)
        return (h * h) @ self.W_c.T  # (N, d)


def projected_l2_loss(outputs: Tensor, targets: Tensor) -> Tensor:
    """ℓ = mean_n ‖P⊥o_n − P⊥e_{y_n}‖², P⊥ = I − 11ᵀ/d (spec §1, the code's ``loss_func=mse``).

    Arguments:
        outputs: ``(N, d)`` network outputs (a leading seed axis ``(S, N, d)`` is allowed).
        targets: ``(N,)`` integer labels in ``0..d-1`` (or ``(S, N)``).

    Returns:
        The loss, a scalar (or ``(S,)``).
    """
    d = outputs.shape[-1]
    o = outputs - outputs.mean(-1, keepdim=True)  # (…, N, d) centred output
    y = torch.nn.functional.one_hot(targets.long(), d).to(outputs.dtype) - 1.0 / d  # (…, N, d) centred target
    return ((o - y) ** 2).sum(-1).mean(-1)


def grid_targets(d: int, *, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> Tensor:
    """Centred one-hot targets on the full grid, ``Y[m, g1, g2] = [m = g1+g2 mod d] − 1/d``, shape (d, d, d)."""
    g = torch.arange(d, device=device)
    y = torch.zeros(d, d, d, dtype=dtype, device=device)
    y[(g[:, None] + g[None, :]) % d, g[:, None], g[None, :]] = 1.0
    return y - 1.0 / d


def grid_outputs(weights: Weights) -> Tensor:
    """Outputs on all d² pairs as ``O[…, m, g1, g2]`` (a leading seed axis allowed), shape (…, d, d, d)."""
    W_a, W_b, W_c = weights
    h = W_a[..., :, :, None] + W_b[..., :, None, :]  # (…, q, d, d)
    d = W_a.shape[-1]
    return (W_c @ (h * h).flatten(-2)).unflatten(-1, (d, d))  # (…, d, d, d)


def pair_loss(weights: Weights, pairs_mask: Tensor | None = None) -> Tensor:
    """Projected L2 loss over all d² pairs, or over the pairs where ``pairs_mask`` (d, d) is true.

    The loss of the full grid is what the Fourier decomposition (spec §2) equals.
    """
    O = grid_outputs(weights)  # (…, d, d, d)
    d = O.shape[-1]
    R = O - O.mean(-3, keepdim=True) - grid_targets(d, dtype=O.dtype, device=O.device)  # (…, d, d, d)
    per_pair = (R * R).sum(-3)  # (…, d, d)
    if pairs_mask is None:
        return per_pair.mean((-2, -1))
    m = pairs_mask.to(per_pair.dtype)
    return (per_pair * m).sum((-2, -1)) / m.sum((-2, -1))


def train_test_indices(d: int, seed: int, *, test_size: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The paper's split: ``sklearn.train_test_split(all d² pairs, test_size, random_state=seed)``.

    Pair ``(g1, g2)`` has index ``g1*d + g2`` (the row order of :func:`netoptima.data.modular_addition` and of
    the official ``generate_dataset``), so the same seed gives the same split as the official code.

    Returns:
        ``(train_idx, test_idx)``: int arrays into the d² pairs.
    """
    from sklearn.model_selection import train_test_split

    d = check_int("d", d, low=2)
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    test_size = check_real("test_size", test_size, low=0.0, high=0.99)
    idx = np.arange(d * d)
    if test_size == 0.0:
        return idx, idx[:0]
    train, test = train_test_split(idx, test_size=test_size, random_state=seed)
    return np.asarray(train), np.asarray(test)
