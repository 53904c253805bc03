"""Validation helpers, divergence errors, seeding and dtype switching."""

from __future__ import annotations

import math

import pytest
import torch

from netoptima.conventions import (
    TrainingDiverged,
    check_choice,
    check_finite_loss,
    check_int,
    check_positive,
    check_real,
    default_dtype,
    seed_everything,
)


def test_check_int_names_argument_value_and_range():
    assert check_int("width", 8, low=1) == 8
    with pytest.raises(ValueError, match=r"width must be an integer >= 1, got 0"):
        check_int("width", 0, low=1)
    with pytest.raises(ValueError, match=r"depth must be an integer in \[2, 4\], got 5"):
        check_int("depth", 5, low=2, high=4)
    with pytest.raises(ValueError, match="got True"):
        check_int("n", True)
    with pytest.raises(ValueError, match="got 2.0"):
        check_int("n", 2.0)


def test_check_real_and_choice():
    assert check_positive("lr", 0.1) == 0.1
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0.0, got 0.0"):
        check_positive("lr", 0.0)
    with pytest.raises(ValueError, match="gamma"):
        check_real("gamma", math.nan)
    with pytest.raises(ValueError, match=r"gamma must be a finite number in \[0.0, 1.0\], got 1.5"):
        check_real("gamma", 1.5, low=0.0, high=1.0)
    with pytest.raises(ValueError, match=r"split must be one of 'train', 'test'; got 'val'"):
        check_choice("split", "val", ["train", "test"])


def test_training_diverged_names_step_and_lr():
    assert check_finite_loss(torch.tensor(0.5), step=3, lr=0.1) == 0.5
    with pytest.raises(TrainingDiverged, match=r"step 17 with learning rate 0.3") as info:
        check_finite_loss(float("inf"), step=17, lr=0.3)
    assert info.value.step == 17 and info.value.lr == 0.3


def test_seed_and_dtype():
    g = seed_everything(5)
    a = torch.randn(3, generator=g)
    assert torch.equal(a, torch.randn(3, generator=seed_everything(5)))
    with default_dtype(torch.float64):
        assert torch.zeros(1).dtype == torch.float64
    assert torch.zeros(1).dtype == torch.float32


def test_progress_is_quiet_off_terminal_and_can_be_forced(monkeypatch, capsys):
    from netoptima.conventions import progress

    items = [1, 2, 3]
    monkeypatch.delenv("NETOPTIMA_PROGRESS", raising=False)
    assert progress(items, desc="x") is items  # pytest's stderr is not a terminal
    monkeypatch.setenv("NETOPTIMA_PROGRESS", "1")
    assert list(progress(items, desc="sweep", total=3)) == items
    assert "sweep" in capsys.readouterr().err
    assert progress(items, quiet=True) is items


def test_check_memory_refuses_tensors_beyond_physical_memory():
    import numpy as np

    from netoptima.conventions import check_memory

    check_memory("small", (1000, 1000), dtype=torch.float64)  # 8 MB: fine
    check_memory("numpy", (10, 10), dtype=np.float64)
    with pytest.raises(ValueError, match=r"huge needs 3\.725e\+12 GiB \(10000000000×100000000000 values\)"):
        check_memory("huge", (10**10, 10**11), dtype=torch.float32)
    with pytest.raises(ValueError, match=r"many needs .* \(1×1 \+ 1×1 \+ 1×1 \+ 1×1 \+ … values\)"):
        check_memory("many", *[(1, 1)] * 4, (10**12, 10**12))
