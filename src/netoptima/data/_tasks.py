"""Algorithmic tasks: modular addition (the "grokking" task) and addition in a finite Abelian group."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from netoptima.conventions import _physical_memory, check_choice, check_int, check_memory

__all__ = ["abelian_task", "modular_addition", "one_hot_pairs"]

# abelian_task holds |G|² pairs (2 int64) and |G|² targets (1 int64), plus two |G|² int64 temporaries: 40 bytes/pair
_BYTES_PER_PAIR = 40


# Largest modulus: d² pairs × 24 bytes (pairs + targets) stay under ~6.5 GB of the 24 GB machines.
MAX_MODULUS = 16384


def modular_addition(d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every pair ``(a, b)`` with ``a, b in 0..d-1`` and its sum modulo ``d``.

    Arguments:
        d: the modulus, an integer ``>= 2``.

    Returns:
        ``(pairs, targets)``:

        * ``pairs``: int64 tensor of shape ``(d*d, 2)`` in row-major order (``a`` is the outer index,
          ``b`` the inner one), so row ``a*d + b`` is ``(a, b)``.
        * ``targets``: int64 tensor of shape ``(d*d,)`` with ``targets[i] = (a + b) % d``, in ``0..d-1``.

    Raises:
        ValueError: ``d`` is not an integer in ``[2, MAX_MODULUS]`` (16384: the d² pairs must fit in memory).
    """
    d = check_int("d", d, low=2, high=MAX_MODULUS)
    r = torch.arange(d, dtype=torch.int64)
    a = r.repeat_interleave(d)
    b = r.repeat(d)
    return torch.stack([a, b], dim=1), (a + b) % d


def abelian_task(orders: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every pair ``(g, h)`` of G = Z_{d1} × … × Z_{dk} and its sum ``g + h`` (componentwise modulo the orders).

    Elements are indexed in mixed radix with the last factor fastest (``numpy.ravel_multi_index`` order):
    ``(g_1, …, g_k)`` has index ``((g_1·d_2 + g_2)·d_3 + …)·d_k + g_k``. ``abelian_task((d,))`` equals
    :func:`modular_addition` ``(d)``.

    Arguments:
        orders: the orders ``(d1, …, dk)``, a non-empty sequence of integers ``>= 3`` (a plain int d means ``(d,)``).

    Returns:
        ``(pairs, targets)`` with N = |G| = d1·…·dk:

        * ``pairs``: int64 tensor of shape ``(N*N, 2)`` of element indices, row-major (``g`` outer, ``h`` inner),
          so row ``g*N + h`` is ``(g, h)``.
        * ``targets``: int64 tensor of shape ``(N*N,)``, the index of ``g + h``, in ``0..N-1``.

    Raises:
        ValueError: ``orders`` is empty or holds a non-integer or an order < 3, or the pair table (~40·N² bytes)
            would not fit in this machine's memory; raised before anything is allocated.
    """
    orders = _check_orders(orders)
    n = math.prod(orders)
    r = torch.arange(n, dtype=torch.int64)
    targets = torch.zeros(n, n, dtype=torch.int64)  # (N, N): index of g + h
    for i, c in enumerate(np.unravel_index(np.arange(n), orders)):  # c: (N,) the i-th component of every element
        ci = torch.as_tensor(c, dtype=torch.int64)
        targets += ((ci[:, None] + ci[None, :]) % orders[i]) * math.prod(orders[i + 1:])
    return torch.stack([r.repeat_interleave(n), r.repeat(n)], dim=1), targets.reshape(-1)


def _check_orders(orders: Sequence[int]) -> tuple[int, ...]:
    """Validate ``orders`` (an int d means ``(d,)``) and the memory of the pair table, before any allocation."""
    if isinstance(orders, (int, np.integer)) and not isinstance(orders, bool):
        orders = (orders,)
    if isinstance(orders, (str, bytes)) or not isinstance(orders, (Sequence, np.ndarray)) or len(orders) == 0:
        raise ValueError(f"orders must be a non-empty sequence of integers >= 3 (the orders d_i of "
                         f"G = Z_d1 × … × Z_dk), got {orders!r}")
    out = tuple(check_int(f"orders[{i}]", d, low=3) for i, d in enumerate(orders))
    n = math.prod(out)
    nmax = math.isqrt(_physical_memory() // _BYTES_PER_PAIR)
    if n > nmax:
        raise ValueError(f"orders must give a group of size |G| = prod(orders) in [3, {nmax}] on this machine (the "
                         f"|G|² pairs need {_BYTES_PER_PAIR}·|G|² bytes), got |G| = {n} for orders {out}")
    check_memory(f"abelian_task(orders={out})", (n * n, _BYTES_PER_PAIR // 8), dtype=torch.int64)
    return out


def one_hot_pairs(pairs: torch.Tensor, d: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Concatenated one-hot encodings of the two operands of each pair.

    Arguments:
        pairs: integer tensor of shape ``(N, 2)`` with entries in ``0..d-1`` (e.g. from
            :func:`modular_addition`).
        d: the modulus, an integer ``>= 2``.
        dtype: floating dtype of the result; ``None`` means ``torch.get_default_dtype()``.

    Returns:
        Tensor of shape ``(N, 2*d)``: columns ``0..d-1`` one-hot encode ``a``, columns ``d..2d-1``
        one-hot encode ``b``; every row has exactly two ones and the rest zeros.

    Raises:
        ValueError: ``d < 2``; ``pairs`` is not an integer tensor of shape ``(N, 2)`` with entries in
            ``0..d-1``; ``dtype`` is not a floating dtype.
    """
    d = check_int("d", d, low=2)
    if dtype is None:
        dtype = torch.get_default_dtype()
    check_choice("dtype", dtype, [torch.float16, torch.bfloat16, torch.float32, torch.float64])
    if not isinstance(pairs, torch.Tensor):
        raise ValueError(f"pairs must be an integer torch.Tensor of shape (N, 2), got {type(pairs).__name__}")
    if pairs.dtype.is_floating_point or pairs.dtype.is_complex or pairs.dtype == torch.bool:
        raise ValueError(f"pairs must be an integer tensor of shape (N, 2), got dtype {pairs.dtype}")
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must have shape (N, 2), got {tuple(pairs.shape)}")
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= d):
        raise ValueError(f"pairs entries must be in [0, {d - 1}] (d={d}), got values in "
                         f"[{int(pairs.min())}, {int(pairs.max())}]")
    check_memory(f"one_hot_pairs(d={d})", (pairs.shape[0], 2 * d), dtype=dtype)
    pairs = pairs.long()
    out = torch.zeros(pairs.shape[0], 2 * d, dtype=dtype)
    rows = torch.arange(pairs.shape[0])
    out[rows, pairs[:, 0]] = 1
    out[rows, pairs[:, 1] + d] = 1
    return out
