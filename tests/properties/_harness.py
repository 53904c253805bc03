"""Shared pieces of the property-based tests (issue 17): bad-value strategies and the outcome contract.

The contract every public function is held to: for any input it returns a correct result or raises the
documented ``ValueError`` / ``TypeError`` (or a documented domain error passed as ``allowed``) with a non-empty
message — never another exception, and never a hang (a generous alarm turns a hang into a failure).
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Few examples per property: the suite covers ~150 public names and must stay well under 2 minutes on 2 cores.
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
                database=None)
SLOW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
                database=None)

HANG_SECONDS = 120  # far above any single call here (they take milliseconds); only a real hang reaches it

DOCUMENTED = (ValueError, TypeError)


class Hang(AssertionError):
    pass


@contextmanager
def hang_guard(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Fail (instead of hanging forever) when the block runs longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise Hang(f"call still running after {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def outcome(fn: Callable[..., Any], *args: Any, allowed: tuple[type[BaseException], ...] = (), **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``'s result, or the documented exception it raised (returned, not raised).

    Any other exception propagates, so hypothesis reports it with the falsifying example.
    """
    try:
        with hang_guard():
            return fn(*args, **kwargs)
    except DOCUMENTED + allowed as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return exc


def rejects(fn: Callable[..., Any], *args: Any, name: str | None = None,
            allowed: tuple[type[BaseException], ...] = (), **kwargs: Any) -> BaseException:
    """Assert that the call raises a documented error (naming ``name`` when given) and return it."""
    got = outcome(fn, *args, allowed=allowed, **kwargs)
    assert isinstance(got, DOCUMENTED + allowed), f"accepted a bad input, returned {type(got).__name__}"
    if name is not None:
        assert name in str(got), f"the error does not name {name!r}: {got}"
    return got


def failed(x: Any) -> bool:
    return isinstance(x, BaseException)


# ----------------------------------------------------------------------------------------------- strategies

def bad_ints(low: int | None = None, high: int | None = None) -> st.SearchStrategy[Any]:
    """Values that are not an integer in [low, high]: out of range, huge, fractional, NaN/inf, bool, str, None."""
    out: list[st.SearchStrategy[Any]] = [
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not float(v).is_integer()),
        st.sampled_from([math.nan, math.inf, -math.inf, 2.0, True, False, "3", None, [1], 10**30, -(10**30),
                         2**63, 2**64]),
    ]
    if low is not None:
        out.append(st.integers(max_value=low - 1).map(int))
    if high is not None:
        out.append(st.integers(min_value=high + 1).map(int))
    return st.one_of(out).filter(lambda v: not (isinstance(v, int) and not isinstance(v, bool)
                                                and (low is None or v >= low) and (high is None or v <= high)))


def bad_reals(low: float | None = None, high: float | None = None, low_open: bool = False) -> st.SearchStrategy[Any]:
    """Values that are not a finite real in the range: NaN/inf, out of range, bool, str, None, complex."""
    out: list[st.SearchStrategy[Any]] = [st.sampled_from([math.nan, math.inf, -math.inf, "0.1", None, True, 1j])]
    if low is not None:
        out.append(st.floats(max_value=low, exclude_max=not low_open, allow_nan=False, allow_infinity=False))
    if high is not None:
        out.append(st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False))
    return st.one_of(out)


FLOAT_DTYPES = (np.float32, np.float64)
ANY_DTYPES = (np.float16, np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_, np.complex64)


def arrays(*, dtypes: tuple[Any, ...] = ANY_DTYPES, min_dims: int = 0, max_dims: int = 3, min_side: int = 0,
           max_side: int = 6, special: bool = True, shape: Any = None) -> st.SearchStrategy[np.ndarray]:
    """NumPy arrays of arbitrary small shape and dtype; floats may hold NaN/inf and huge values."""
    shapes = shape if shape is not None else hnp.array_shapes(min_dims=min_dims, max_dims=max_dims,
                                                             min_side=min_side, max_side=max_side)

    def elements(dt: np.dtype) -> st.SearchStrategy[Any] | None:
        if np.issubdtype(dt, np.floating):
            width = 32 if dt == np.float32 else (16 if dt == np.float16 else 64)
            return st.floats(allow_nan=special, allow_infinity=special, width=width)
        return None

    return st.sampled_from(dtypes).flatmap(
        lambda dt: hnp.arrays(np.dtype(dt), shapes, elements=elements(np.dtype(dt))))


def tensors(**kw: Any) -> st.SearchStrategy[torch.Tensor]:
    """:func:`arrays` as torch tensors (float16 and uint8 included: torch supports both)."""
    return arrays(**kw).map(lambda a: torch.from_numpy(np.ascontiguousarray(a)))


def finite_matrices(n: tuple[int, int] = (1, 6), d: tuple[int, int] = (1, 5), *, scale: float = 10.0,
                    dtype: Any = np.float64) -> st.SearchStrategy[np.ndarray]:
    """Well-formed (n, d) float matrices with moderate finite entries (for the 'correct result' side)."""
    return st.tuples(st.integers(*n), st.integers(*d)).flatmap(lambda s: hnp.arrays(
        dtype, s, elements=st.floats(-scale, scale, allow_nan=False, width=32 if dtype == np.float32 else 64)))


def poison(a: np.ndarray, value: float, where: int) -> np.ndarray:
    """A float copy of ``a`` with one entry (flat index ``where`` mod size) replaced by ``value``."""
    b = np.array(a, dtype=np.float64 if a.dtype != np.float32 else np.float32, copy=True)
    b.reshape(-1)[where % b.size] = value
    return b


def allocation_refused(exc: BaseException) -> bool:
    """torch's own clear refusal of an impossible allocation (names the bytes asked for), for huge sizes."""
    return isinstance(exc, (MemoryError, RuntimeError)) and ("can't allocate memory" in str(exc)
                                                             or isinstance(exc, MemoryError))


def outcome_huge(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """:func:`outcome` for sizes beyond the machine: torch's allocation refusal is an accepted answer too."""
    try:
        return outcome(fn, *args, **kwargs)
    except (MemoryError, RuntimeError) as exc:
        if not allocation_refused(exc):
            raise
        return exc
