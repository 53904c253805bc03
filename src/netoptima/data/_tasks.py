"""Algorithmic tasks: modular addition (the "grokking" task)."""

from __future__ import annotations

import torch

from netoptima.conventions import check_choice, check_int, check_memory

__all__ = ["modular_addition", "one_hot_pairs"]


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
