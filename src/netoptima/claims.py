"""Claims: every headline statement of the research as an executable check.

A claim is three pure pieces and its metadata (contract v2, see ``docs/contributing.md``):

* ``settings``: one frozen dataclass per scale (``smoke``, ``small``, ``paper``) holding every number the runs and
  the rule use — sizes, steps, learning rates, seeds, tolerances — plus ``deviation``, how that setup differs from
  the paper's (``""`` means it *is* the paper's setting).
* ``run(settings, runner) -> dict``: does the work through ``runner.map`` (resumable, local processes or Dask) and
  returns JSON data. It never decides a verdict.
* ``judge(data, settings) -> Judgement``: pure — no I/O, no training, deterministic and cheap — so
  ``netoptima judge DIR`` can re-decide every stored claim from its ``evidence.json`` without running anything.
* ``plot(data, settings, out_dir) -> [file names]`` (optional): figures drawn from the same data.

A part registers its claims in ``netoptima/<part>/claims.py`` by decorating the judge::

    @claim(id="ntk.width_convergence", paper="Du et al. 2019", statement="...", paper_value="O(m^-1/2)",
           settings=WIDTH_CONVERGENCE, run=width_convergence_run, plot=plot_width_convergence,
           budget={"smoke": "5 s", "small": "40 s", "paper": "10 min"})
    def judge_width_convergence(data: dict, s: WidthConvergence) -> Judgement: ...

The decorator returns the judge unchanged, so it stays a plain function that tests call directly.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import math
import os
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from netoptima.sweep import Runner

Scale = Literal["smoke", "small", "paper"]
SCALES: tuple[str, ...] = ("smoke", "small", "paper")
VERDICTS: tuple[str, ...] = ("reproduced", "partly", "not reproduced", "not run")
# Sub-packages that may hold a ``claims`` module; the claim prefix is the package name, except for the
# certification package, whose claims are ``certify.*`` after the function they exercise (``netoptima.certify``).
PARTS: tuple[str, ...] = ("ntk", "cogo", "dynamics", "convex", "explicit", "deq", "mup", "certification")
PREFIX_OF_PACKAGE: dict[str, str] = {"certification": "certify"}
EVIDENCE_FORMAT = 2  # the version of evidence.json's layout
# ``--scale paper`` runs a labelled subset where the paper's full setting costs far more than ~2 h on 2 cores;
# with this variable set to 1 (read at import) it runs the full setting instead
PAPER_FULL_ENV = "NETOPTIMA_PAPER_FULL"
PAPER_SUBSET_PREFIX = "paper setting, subset:"  # how a subset's deviation starts (the report and `list` show it)

__all__ = [
    "BROKEN_PARTS", "Claim", "EVIDENCE_FORMAT", "Evidence", "Judgement", "NotRun", "PAPER_FULL_ENV",
    "PAPER_SUBSET_PREFIX", "PARTS", "SCALES", "Scale", "Settings", "VERDICTS", "all_claims", "check_scale", "claim",
    "discover", "loglog_slope", "paper_subset", "register", "rejudge", "run_claim", "select", "settings_from_json",
    "verdict_in_range", "worst",
]


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Base of every claim's settings: subclass it as ``@dataclass(frozen=True, kw_only=True)``.

    Arguments:
        deviation: how this scale's setup differs from the paper's, in words ("60 MNIST images instead of the
            notebook's 1000; trend only"); ``""`` when it is the paper's setting. Shown in the report.
    """

    deviation: str = ""


SettingsT = TypeVar("SettingsT", bound=Settings)


@dataclass(frozen=True)
class Judgement:
    """A claim's verdict on one run's data.

    Arguments:
        verdict: one of :data:`VERDICTS`.
        measured: the headline figure as a short string ("slope −0.49 (5 seeds)").
        rule: the rule that decided, in words, with its numbers ("reproduced iff slope in [−0.6, −0.4]").
        detail: sanity checks, caveats and contrary evidence that did not decide alone.
        paper_says: what the paper says about *the setup that ran*, when that differs from ``paper_value``
            ("trend only; the paper's 1.75 needs --scale paper"); ``None`` means the claim's ``paper_value``.
    """

    verdict: str
    measured: str
    rule: str
    detail: str = ""
    paper_says: str | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(map(repr, VERDICTS))}; got {self.verdict!r}")
        if not isinstance(self.rule, str) or not self.rule.strip():
            raise ValueError("a Judgement needs the rule that decided it (rule='...'), got an empty rule")


class NotRun(Exception):
    """Raised by a claim's ``run`` when it cannot run here (a missing optional input, e.g. CIFAR-10 files)."""


JudgeFn = Callable[[dict[str, Any], Any], Judgement]
RunFn = Callable[[Any, "Runner"], dict[str, Any]]
PlotFn = Callable[[dict[str, Any], Any, Path], Sequence[str | os.PathLike[str]]]


@dataclass(frozen=True)
class Claim:
    """A registered claim: the paper's metadata, per-scale settings, ``run``, ``judge`` and ``plot``.

    ``needs`` lists importable modules the claim requires (a missing one gives verdict "not run").
    ``budget`` gives the rough wall time per scale shown by ``netoptima list`` (all three scales).
    ``cpu_only`` is empty when the claim runs on any torch device, else the reason it runs on the CPU whatever
    ``--device`` says (shown by ``netoptima list`` and noted in the detail when another device was asked for).
    """

    id: str
    paper: str
    statement: str
    paper_value: str
    settings: Mapping[str, Settings]
    run: RunFn
    judge: JudgeFn
    plot: PlotFn | None = None
    needs: tuple[str, ...] = ()
    budget: Mapping[str, str] = field(default_factory=dict)
    cpu_only: str = ""

    @property
    def part(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass
class Evidence:
    """What :func:`run_claim` produced: the judgement, the data it was judged on, artifacts and notes."""

    judgement: Judgement
    settings: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    crashed: bool = False

    @property
    def verdict(self) -> str:
        return self.judgement.verdict

    def record(self, c: Claim, scale: str) -> dict[str, Any]:
        """The ``evidence.json`` layout (format :data:`EVIDENCE_FORMAT`), without run metadata."""
        j = self.judgement
        detail = "; ".join(x for x in (j.detail, *self.notes) if x)
        return {"format": EVIDENCE_FORMAT, "id": c.id, "paper": c.paper, "statement": c.statement,
                "paper_value": c.paper_value, "paper_says": j.paper_says or c.paper_value, "scale": scale,
                "deviation": self.settings.get("deviation", ""), "settings": self.settings, "data": self.data,
                "verdict": j.verdict, "measured": j.measured, "rule": j.rule, "detail": detail,
                "notes": self.notes, "artifacts": self.artifacts, "crashed": self.crashed}


_REGISTRY: dict[str, Claim] = {}
# part -> the error its claims module raised on import (reported by the CLI, the other parts still run)
BROKEN_PARTS: dict[str, str] = {}


def _check_claim(c: Claim) -> None:
    if c.id.count(".") != 1 or not all(c.id.split(".")):
        raise ValueError(f"claim id must look like 'part.name', got {c.id!r}")
    if set(c.settings) != set(SCALES):
        raise ValueError(f"claim {c.id}: settings must name exactly the scales {SCALES}, got {tuple(c.settings)}")
    for scale, s in c.settings.items():
        if not (dataclasses.is_dataclass(s) and isinstance(s, Settings)) or not type(s).__dataclass_params__.frozen:
            raise ValueError(f"claim {c.id}: settings[{scale!r}] must be a frozen dataclass subclassing Settings, "
                             f"got {type(s).__name__}")
    if set(c.budget) != set(SCALES):
        raise ValueError(f"claim {c.id}: budget must name all of {SCALES}, got {tuple(c.budget)}")


def register(c: Claim) -> Claim:
    """Add a claim to the registry; ids are ``part.name`` and unique."""
    _check_claim(c)
    old = _REGISTRY.get(c.id)
    if old is not None and old.judge.__qualname__ != c.judge.__qualname__:
        raise ValueError(f"claim id {c.id!r} is already registered by {old.judge.__module__}")
    _REGISTRY[c.id] = c
    return c


def claim(*, id: str, paper: str, statement: str, paper_value: str, settings: Mapping[str, Settings], run: RunFn,
          budget: Mapping[str, str], plot: PlotFn | None = None, needs: Sequence[str] = (),
          cpu_only: str = "") -> Callable[[JudgeFn], JudgeFn]:
    """Register a claim whose judge is the decorated function; the judge is returned unchanged."""

    def wrap(judge: JudgeFn) -> JudgeFn:
        register(Claim(id=id, paper=paper, statement=statement, paper_value=paper_value, settings=dict(settings),
                       run=run, judge=judge, plot=plot, needs=tuple(needs), budget=dict(budget), cpu_only=cpu_only))
        return judge

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
        t = PREFIX_OF_PACKAGE.get(t, t)
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


def paper_subset(subset: SettingsT, full: SettingsT) -> SettingsT:
    """The ``paper`` settings: the labelled subset, or ``full`` when ``NETOPTIMA_PAPER_FULL=1``.

    The subset's ``deviation`` must start with "paper setting, subset:" and say what is left out; the full
    setting's names only what no run can match (data not shipped, unknown details).
    """
    if not subset.deviation.startswith(PAPER_SUBSET_PREFIX):
        raise ValueError(f"a paper subset's deviation must start with {PAPER_SUBSET_PREFIX!r}, got "
                         f"{subset.deviation[:60]!r}")
    return full if os.environ.get(PAPER_FULL_ENV) == "1" else subset


def check_scale(scale: Any) -> str:
    """Validate a scale name; a bad one is a ``ValueError`` naming it and the allowed scales."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(map(repr, SCALES))}; got {scale!r}")
    return scale


def settings_json(s: Settings) -> dict[str, Any]:
    """A settings dataclass as JSON-able data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(s), allow_nan=False))


def _tuples(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_tuples(v) for v in x)
    if isinstance(x, dict):
        return {k: _tuples(v) for k, v in x.items()}
    return x


def settings_from_json(c: Claim, scale: str, stored: Mapping[str, Any]) -> Settings:
    """Rebuild the settings a stored run used: the stored values over the current ones of that scale.

    Fields added to the settings since the run take today's value; a stored field the settings no longer have
    means the evidence belongs to another version of the claim and raises ``ValueError``.
    """
    current = c.settings[check_scale(scale)]
    names = {f.name for f in dataclasses.fields(current)}
    unknown = sorted(set(stored) - names)
    if unknown:
        raise ValueError(f"stored settings have fields {unknown} that {type(current).__name__} does not have")
    return dataclasses.replace(current, **{k: _tuples(v) for k, v in stored.items()})


def _judge(c: Claim, data: dict[str, Any], s: Settings) -> Judgement:
    j = c.judge(data, s)
    if not isinstance(j, Judgement):
        raise TypeError(f"judge of {c.id} returned {type(j).__name__}, expected Judgement")
    return j


def run_claim(c: Claim, scale: str, runner: Runner) -> Evidence:
    """Run one claim at ``scale``: run -> judge -> plot. A missing dependency, :class:`NotRun` or a crash
    becomes a "not run" verdict with the reason; the runner's failed runs and device notes go into the notes.

    Raises:
        ValueError: for a scale that is not one of :data:`SCALES`.
    """
    s = c.settings[check_scale(scale)]
    settings = settings_json(s)
    notes: list[str] = []
    missing = missing_needs(c)
    if missing:
        return Evidence(Judgement("not run", "-", "needs " + ", ".join(c.needs),
                                  f"missing optional dependency: {', '.join(missing)} "
                                  f"(pip install {' '.join(missing)})"), settings)
    if c.cpu_only and runner.device != "cpu":
        notes.append(f"ran on cpu, not {runner.device}: {c.cpu_only}")
        runner.device = "cpu"
    try:
        from netoptima.sweep import jsonable

        data = c.run(s, runner)
        if not isinstance(data, dict):
            raise TypeError(f"run of {c.id} returned {type(data).__name__}, expected a dict")
        data = json.loads(json.dumps(data, allow_nan=True, default=jsonable))
        judgement = _judge(c, data, s)
    except NotRun as exc:
        return Evidence(Judgement("not run", "-", "needs its inputs", str(exc)), settings, notes=notes)
    except Exception as exc:  # a broken claim must not hide the others' results
        return Evidence(Judgement("not run", "-", "crashed before a verdict",
                                  f"crashed: {type(exc).__name__}: {exc}"), settings,
                        data={"traceback": traceback.format_exc()}, notes=notes, crashed=True)
    artifacts: list[str] = []
    if c.plot is not None:
        try:
            artifacts = [Path(p).name for p in c.plot(data, s, runner.claim_dir)]
        except Exception as exc:  # a figure must not cost the verdict; the missing plot is noted
            notes.append(f"plot failed: {type(exc).__name__}: {exc}")
    if runner.failures:
        notes.append(f"{len(runner.failures)} run(s) failed (first: {runner.failures[0]['error']})")
    return Evidence(judgement, settings, data, artifacts, notes)


def rejudge(record: Mapping[str, Any]) -> tuple[Claim, Judgement]:
    """Re-decide a stored ``evidence.json`` record with today's rules (no training, no I/O).

    Raises:
        ValueError: when the record is not netoptima evidence, names an unknown claim or cannot be judged.
    """
    if not isinstance(record, Mapping) or record.get("format") != EVIDENCE_FORMAT:
        raise ValueError(f"not a netoptima evidence record of format {EVIDENCE_FORMAT}")
    registry = discover()
    cid = record.get("id")
    if cid not in registry:
        raise ValueError(f"names claim {cid!r}, which is not registered")
    c = registry[cid]
    data, stored = record.get("data"), record.get("settings")
    if not isinstance(data, dict) or not isinstance(stored, dict):
        raise ValueError("has no 'data' and 'settings' objects")
    if record.get("crashed") or record.get("verdict") == "not run" and not data:
        return c, Judgement("not run", str(record.get("measured", "-")), str(record.get("rule") or "not run"),
                            str(record.get("detail", "")))
    s = settings_from_json(c, str(record.get("scale")), stored)
    return c, _judge(c, data, s)


def verdict_in_range(value: float, low: float, high: float, *, partly: tuple[float, float] | None = None) -> str:
    """``reproduced`` if low <= value <= high, ``partly`` if inside the wider ``partly`` band, else not."""
    if not math.isfinite(value):
        return "not reproduced"
    if low <= value <= high:
        return "reproduced"
    if partly is not None and partly[0] <= value <= partly[1]:
        return "partly"
    return "not reproduced"


def worst(*verdicts: str) -> str:
    """The least favourable of several verdicts (``reproduced`` < ``partly`` < ``not reproduced`` < ``not run``)."""
    return max(verdicts, key=VERDICTS.index)


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x (all points, e.g. every seed at every width)."""
    import numpy as np

    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if lx.size < 2 or np.ptp(lx) == 0:
        raise ValueError(f"x needs at least two distinct positive values to fit a slope, got {list(x)!r}")
    return float(np.polyfit(lx, ly, 1)[0])
