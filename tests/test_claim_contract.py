"""One contract test over every registered claim (like scikit-learn's ``parametrize_with_checks``).

Each claim runs once at smoke scale (runs shared across claims); the checks then hold for every claim:
a verdict from :data:`VERDICTS` with its rule, artifacts that exist, JSON-able data and settings, a pure judge
that gives back the stored verdict, ``device`` in every run config, and settings and budget for all scales.
"""

from __future__ import annotations

import builtins
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest

from netoptima.claims import (
    BROKEN_PARTS,
    SCALES,
    VERDICTS,
    Claim,
    Evidence,
    Settings,
    discover,
    missing_needs,
    rejudge,
    run_claim,
    settings_from_json,
)
from netoptima.sweep import Runner

CLAIMS = discover()
_RESULTS: dict[str, tuple[Evidence, list[dict[str, Any]], Path]] = {}


class RecordingRunner(Runner):
    """A runner that remembers every config it sent, after the device was added."""

    def map(self, fn, configs, **kw):  # type: ignore[override]
        self.sent = getattr(self, "sent", []) + [{"device": self.device, **c} for c in configs]
        return super().map(fn, configs, **kw)


def _smoke(c: Claim, tmp_root: Path, runs: Path) -> tuple[Evidence, list[dict[str, Any]], Path]:
    if c.id not in _RESULTS:
        claim_dir = tmp_root / c.id
        runner = RecordingRunner(claim_dir, workers=2, quiet=True, runs_dir=runs)
        ev = run_claim(c, "smoke", runner)
        _RESULTS[c.id] = (ev, getattr(runner, "sent", []), claim_dir)
    return _RESULTS[c.id]


def test_every_part_loads():
    assert not BROKEN_PARTS, f"parts whose claims module failed to import: {BROKEN_PARTS}"


@pytest.mark.parametrize("cid", list(CLAIMS))
def test_claim_contract(cid: str, tmp_path_factory, shared_runs_dir):
    c = CLAIMS[cid]
    # settings and budget for every scale; settings are frozen, JSON-able and round-trip through evidence
    assert set(c.settings) == set(SCALES) and set(c.budget) == set(SCALES)
    for scale, s in c.settings.items():
        assert isinstance(s, Settings) and type(s).__dataclass_params__.frozen
        stored = json.loads(json.dumps(dataclasses.asdict(s), allow_nan=False))
        assert settings_from_json(c, scale, stored) == s
    ev, sent, claim_dir = _smoke(c, tmp_path_factory.mktemp("claims"), shared_runs_dir)
    j = ev.judgement
    assert j.verdict in VERDICTS and j.rule.strip()
    assert not ev.crashed, ev.judgement.detail + "\n" + ev.data.get("traceback", "")
    if j.verdict == "not run":
        assert missing_needs(c), f"{cid} did not run at smoke scale: {j.detail}"
        return
    assert not [n for n in ev.notes if "failed" in n], ev.notes
    for a in ev.artifacts:
        assert (claim_dir / a).is_file(), f"artifact {a} of {cid} does not exist"
    json.dumps(ev.settings, allow_nan=False)
    json.dumps(ev.data)
    assert sent, f"{cid} ran nothing through runner.map"
    assert all("device" in cfg for cfg in sent)
    # the judge is pure: no file I/O, deterministic, and it gives back the stored verdict from the stored data
    record = json.loads(json.dumps(ev.record(c, "smoke")))

    def no_io(*a, **k):
        raise AssertionError(f"judge of {cid} opened a file: {a[:1]}")

    mp = pytest.MonkeyPatch()
    mp.setattr(builtins, "open", no_io)
    mp.setattr(io, "open", no_io)
    try:
        again = [rejudge(record)[1] for _ in range(2)]
    finally:
        mp.undo()
    assert again[0] == again[1] == dataclasses.replace(j, paper_says=j.paper_says)
