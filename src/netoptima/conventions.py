"""Conventions shared by every part: argument validation, divergence, seeding, dtype, progress bars.

Every public function validates its inputs with the helpers below, so a bad argument raises a
``ValueError`` naming the argument, the value it got and the allowed range.
"""

from __future__ import annotations

import math
import os
import random
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T")

__all__ = [
    "TrainingDiverged",
    "check_choice",
    "check_finite_loss",
    "check_int",
    "check_memory",
    "check_positive",
    "check_real",
    "default_dtype",
    "progress",
    "seed_everything",
    "torch_threads",
]

# A loss above this multiple of max(starting loss, 1) counts as divergence (see check_finite_loss).
BLOWUP_FACTOR = 1e4


class TrainingDiverged(RuntimeError):
    """Raised when training diverges (see :func:`check_finite_loss`); names the step and the learning rate."""

    def __init__(self, step: int, lr: float, loss: float | None = None, *, start: float | None = None) -> None:
        self.step, self.lr, self.loss = step, lr, loss
        what = f"loss {loss:.4g}" if loss is not None else "a non-finite loss"
        if start is not None and loss is not None and math.isfinite(loss):
            what += f", over {BLOWUP_FACTOR:g} × max(starting loss {start:.4g}, 1)"
        super().__init__(f"training diverged at step {step} with learning rate {lr:g} ({what}); "
                         "lower the learning rate")


def check_finite_loss(loss: float | torch.Tensor, *, step: int, lr: float, start: float | None = None) -> float:
    """Return ``loss`` as a float; the one divergence rule every trainer uses.

    Raises ``TrainingDiverged(step, lr)`` if the loss is NaN or infinite, or — when the starting loss ``start`` is
    given — if it exceeds ``BLOWUP_FACTOR`` (1e4) × max(start, 1): a finite blow-up (GD at lr 1e6 reaching 5e51
    before the ReLUs die) is divergence too, while ordinary early oscillation stays far below that factor.
    """
    value = float(loss)
    if not math.isfinite(value):
        raise TrainingDiverged(step, lr, value)
    if start is not None and math.isfinite(start) and value > BLOWUP_FACTOR * max(abs(start), 1.0):
        raise TrainingDiverged(step, lr, value, start=start)
    return value


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Validate an integer argument in ``[low, high]`` (either bound optional)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    return int(value)


def check_real(name: str, value: Any, *, low: float | None = None, high: float | None = None,
               low_open: bool = False) -> float:
    """Validate a finite real argument in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value <= high
    if not ok:
        raise ValueError(f"{name} must be a finite number{_range(low, high, low_open)}, got {value!r}")
    return float(value)


def check_positive(name: str, value: Any) -> float:
    """Validate a finite real argument > 0."""
    return check_real(name, value, low=0.0, low_open=True)


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no bound
        return 2**62


def check_memory(what: str, *shapes: Sequence[int], dtype: torch.dtype | type | None = None) -> None:
    """Refuse tensors that cannot fit in this machine's memory before allocating them.

    ``shapes`` are the tensors' shapes (validated integers); raises ``ValueError`` naming ``what``, the sizes and
    the bytes needed when they exceed the physical memory (an allocation that large fails or overflows in torch).
    """
    if dtype is None or isinstance(dtype, torch.dtype):
        itemsize = torch.empty((), dtype=dtype or torch.get_default_dtype()).element_size()
    else:  # a NumPy dtype
        itemsize = np.dtype(dtype).itemsize
    need = itemsize * sum(math.prod(int(s) for s in shape) for shape in shapes)
    have = _physical_memory()
    if need > have:
        shown = " + ".join("×".join(map(str, shape)) for shape in shapes[:4]) + (" + …" if len(shapes) > 4 else "")
        raise ValueError(f"{what} needs {need / 2**30:.4g} GiB ({shown} values), more than this machine's "
                         f"{have / 2**30:.4g} GiB of memory; choose smaller sizes")


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Validate that ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _range(low: float | None, high: float | None, low_open: bool = False) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low}"
    if low is None:
        return f" <= {high}"
    return f" in {'(' if low_open else '['}{low}, {high}]"


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a ``torch.Generator`` seeded the same way."""
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads (``None``: leave them alone), always restored after.

    Small tensors run fastest on one thread on a shared machine (two spinning threads wait on each other).
    """
    if n is None:
        yield
        return
    n = check_int("n", n, low=1)
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Temporarily switch torch's default dtype (e.g. ``torch.float64`` for exact-identity checks)."""
    check_choice("dtype", dtype, [torch.float32, torch.float64])
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def progress(iterable: Iterable[T], *, desc: str = "", total: int | None = None,
             quiet: bool | None = None) -> Iterable[T]:
    """A tqdm progress bar that stays quiet when stderr is not a terminal or ``quiet=True``.

    ``NETOPTIMA_PROGRESS=1`` forces it on (e.g. under CI logs), ``=0`` forces it off.
    """
    if quiet is None:
        forced = os.environ.get("NETOPTIMA_PROGRESS")
        quiet = (forced == "0") if forced in ("0", "1") else not sys.stderr.isatty()
    if quiet:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)
