"""Claims: every headline statement of the research as an executable check.

A part registers its claims in ``netoptima/<part>/claims.py`` with the :func:`claim` decorator::

    @claim(id="ntk.width_convergence", paper="Du et al. 2019", statement="...", paper_value="O(m^-1/2)")
    def width_convergence(scale: Scale, runner: Runner) -> Evidence: ...

``run(scale, runner)`` does the work (through ``runner.map`` so it is resumable and can run on Dask) and
returns :class:`Evidence` whose verdict is computed from what ran. :func:`discover` imports every part's
``claims`` module so the registry is complete; :func:`select` resolves CLI targets (claim ids or part names).
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from netoptima.sweep import Runner

Scale = Literal["smoke", "small", "paper"]
SCALES: tuple[str, ...] = ("smoke", "small", "paper")
VERDICTS: tuple[str, ...] = ("reproduced", "partly", "not reproduced", "not run")
# Sub-packages that may hold a ``claims`` module; a part that does not exist yet is skipped.
PARTS: tuple[str, ...] = ("ntk", "cogo", "dynamics", "convex", "explicit", "deq", "parametrization")

__all__ = [
    "BROKEN_PARTS", "Claim", "Evidence", "PARTS", "SCALES", "Scale", "VERDICTS", "all_claims", "claim", "discover",
    "loglog_slope", "not_run", "register", "run_claim", "select", "verdict_in_range",
]


@dataclass
class Evidence:
    """What a claim's run measured.

    Arguments:
        measured: the headline number or a short string ("slope -0.49 (5 seeds)").
        verdict: one of :data:`VERDICTS`, computed from what ran.
        detail: one line of context (settings, failures, caveats).
        artifacts: paths of the plots / JSON the run produced (relative to the claim's directory or absolute).
        data: JSON-able numbers behind ``measured`` (kept in ``evidence.json``).
    """

    measured: Any
    verdict: str
    detail: str = ""
    artifacts: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(map(repr, VERDICTS))}; got {self.verdict!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    """A registered claim: metadata from the paper plus ``run(scale, runner) -> Evidence``.

    ``needs`` lists importable modules the claim requires (a missing one gives verdict "not run").
    ``budget`` gives the rough wall time per scale shown by ``netoptima list``.
    """

    id: str
    paper: str
    statement: str
    paper_value: str
    run: Callable[[str, Runner], Evidence]
    needs: tuple[str, ...] = ()
    budget: dict[str, str] = field(default_factory=dict)

    @property
    def part(self) -> str:
        return self.id.split(".", 1)[0]


_REGISTRY: dict[str, Claim] = {}
# part -> the error its claims module raised on import (reported by the CLI, the other parts still run)
BROKEN_PARTS: dict[str, str] = {}


def register(c: Claim) -> Claim:
    """Add a claim to the registry; ids are ``part.name`` and unique."""
    if c.id.count(".") != 1 or not all(c.id.split(".")):
        raise ValueError(f"claim id must look like 'part.name', got {c.id!r}")
    old = _REGISTRY.get(c.id)
    if old is not None and old.run.__qualname__ != c.run.__qualname__:
        raise ValueError(f"claim id {c.id!r} is already registered by {old.run.__module__}")
    _REGISTRY[c.id] = c
    return c


def claim(*, id: str, paper: str, statement: str, paper_value: str, needs: Sequence[str] = (),
          budget: dict[str, str] | None = None) -> Callable[[Callable[[str, Runner], Evidence]], Claim]:
    """Decorator form of :func:`register`; the decorated function becomes ``Claim.run``."""

    def wrap(fn: Callable[[str, Runner], Evidence]) -> Claim:
        return register(Claim(id=id, paper=paper, statement=statement, paper_value=paper_value, run=fn,
                              needs=tuple(needs), budget=dict(budget or {})))

    return wrap


def discover() -> dict[str, Claim]:
    """Import every part's ``claims`` module and return the registry (id -> Claim), sorted by id.

    Extra modules named in ``NETOPTIMA_CLAIM_MODULES`` (comma-separated, importable) are imported too, so
    users can add their own claims without editing the package.
    """
    for part in PARTS:
        name = f"netoptima.{part}.claims"
        if part in BROKEN_PARTS or importlib.util.find_spec(f"netoptima.{part}") is None:
            continue
        try:
            if importlib.util.find_spec(name):
                importlib.import_module(name)
        except Exception as exc:  # one broken part must not take the others down
            BROKEN_PARTS[part] = f"{type(exc).__name__}: {exc}"
    for name in filter(None, (m.strip() for m in os.environ.get("NETOPTIMA_CLAIM_MODULES", "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ValueError(f"NETOPTIMA_CLAIM_MODULES names {name!r}, which cannot be imported: {exc}") from None
    return dict(sorted(_REGISTRY.items()))


def all_claims() -> list[Claim]:
    return list(discover().values())


def select(targets: Sequence[str]) -> list[Claim]:
    """Resolve CLI targets (claim ids or part names, e.g. ``ntk``) to claims; empty = all.

    Raises:
        ValueError: naming an unknown target and listing what is allowed.
    """
    registry = discover()
    if not targets:
        return list(registry.values())
    parts = sorted({c.part for c in registry.values()})
    chosen: dict[str, Claim] = {}
    for t in targets:
        if t in registry:
            chosen[t] = registry[t]
        elif t in parts:
            chosen.update({c.id: c for c in registry.values() if c.part == t})
        else:
            if t in BROKEN_PARTS:
                raise ValueError(f"part {t!r} could not be loaded: {BROKEN_PARTS[t]}")
            raise ValueError(f"unknown claim or part {t!r}; allowed parts: {', '.join(parts)}; "
                             f"claims: {', '.join(registry)}")
    return list(chosen.values())


def missing_needs(c: Claim) -> list[str]:
    return [m for m in c.needs if importlib.util.find_spec(m) is None]


def run_claim(c: Claim, scale: str, runner: Runner) -> Evidence:
    """Run one claim; a missing dependency or a crash becomes a "not run" verdict with the reason."""
    missing = missing_needs(c)
    if missing:
        return not_run(f"missing optional dependency: {', '.join(missing)} (pip install {' '.join(missing)})")
    try:
        ev = c.run(scale, runner)
    except Exception as exc:  # a broken claim must not hide the others' results
        tb = traceback.format_exc()
        return Evidence(measured="-", verdict="not run", detail=f"crashed: {type(exc).__name__}: {exc}",
                        data={"traceback": tb, "crashed": True})
    if not isinstance(ev, Evidence):
        raise TypeError(f"claim {c.id} returned {type(ev).__name__}, expected Evidence")
    return ev


def not_run(reason: str) -> Evidence:
    """Evidence for a claim that could not run here (missing dependency, scale too large...)."""
    return Evidence(measured="-", verdict="not run", detail=reason)


def verdict_in_range(value: float, low: float, high: float, *, partly: tuple[float, float] | None = None) -> str:
    """``reproduced`` if low <= value <= high, ``partly`` if inside the wider ``partly`` band, else not."""
    if not math.isfinite(value):
        return "not reproduced"
    if low <= value <= high:
        return "reproduced"
    if partly is not None and partly[0] <= value <= partly[1]:
        return "partly"
    return "not reproduced"


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x (all points, e.g. every seed at every width)."""
    import numpy as np

    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if lx.size < 2 or np.ptp(lx) == 0:
        raise ValueError(f"x needs at least two distinct positive values to fit a slope, got {list(x)!r}")
    return float(np.polyfit(lx, ly, 1)[0])
