"""Helpers shared by the ``certify.*`` judges (pure functions of run data)."""

from __future__ import annotations


def missing_runs(got: int, expected: int, nonglobal: int = 1) -> str:
    """What keeps a verdict at partly: failed runs, or no net above the optimum (the certified = False check
    did not bite)."""
    out = f"; {expected - got} of {expected} runs missing (failed: see the notes)" if got < expected else ""
    return out + ("; no net was above the optimum, so refusing to certify one was not tested" if not nonglobal
                  else "")
