"""Fixtures shared by every part's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netoptima.conventions import torch_threads
from netoptima.sweep import Runner


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread for the test (restored after): small tensors are fastest so on a shared machine."""
    with torch_threads(1):
        yield


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    """An in-process runner writing under the test's temporary directory (quiet, CPU, seed 0)."""
    return Runner(tmp_path / "claim", workers=1, quiet=True, runs_dir=tmp_path / "runs")


@pytest.fixture(scope="session")
def shared_runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One runs directory for the whole session, so claims that share a run compute it once."""
    return tmp_path_factory.mktemp("runs")
