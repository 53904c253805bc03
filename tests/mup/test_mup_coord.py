"""Coordinate check: record layout, values against a direct forward pass, flat μP curves, and mup's own tool."""

from __future__ import annotations

import pytest
import torch

from netoptima.mup import MLP, coord_check, coord_slopes, plot_coord_check, standardize

WIDTHS = [128, 256, 512, 1024]  # away from the base width 64, where μP has O(n0/n) corrections


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matmuls: one thread is fastest on a shared box


@pytest.fixture(scope="module")
def batch():
    from netoptima.data import mnist

    X, y = mnist(32, seed=3)
    return standardize(X), y


def test_records_and_first_step_equal_a_direct_forward(batch):
    X, y = batch
    recs = coord_check("mup", [64, 128], steps=2, data=batch, seeds=2)
    assert len(recs) == 2 * 2 * 2 * 3  # seeds × widths × steps × (h1, h2, out)
    assert {r["layer"] for r in recs} == {"h1", "h2", "out"} and {r["t"] for r in recs} == {1, 2}
    model = MLP(784, 128, 10, depth=3, parametrization="mup", generator=torch.Generator().manual_seed(1))
    hs = model.preactivations(X)
    for name, h in zip(["h1", "h2", "out"], hs, strict=True):
        (rec,) = [r for r in recs if r["seed"] == 1 and r["width"] == 128 and r["t"] == 1 and r["layer"] == name]
        assert rec["l1"] == pytest.approx(float(h.detach().abs().mean()), rel=1e-6)  # same float32 computation


def test_mup_is_flat_and_sp_readout_blows_up(batch):
    slopes = {p: coord_slopes(coord_check(p, WIDTHS, steps=3, data=batch)) for p in ("mup", "sp", "mf")}
    # μP: every hidden layer flat at every step (TP V: Θ(1) coordinates); ±0.15 covers finite-width effects
    # (measured <= 0.08 here)
    assert all(abs(slopes["mup"][(layer, t)]) <= 0.15 for layer in ("h1", "h2") for t in (1, 2, 3))
    assert slopes["mup"][("out", 1)] == pytest.approx(-0.5, abs=0.15)  # random readout: f ~ n^{-1/2} at init
    # SP with a width-independent η: after one step the output grows like n (abc_exponents: +1; measured 1.07)
    assert slopes["sp"][("out", 2)] == pytest.approx(1.0, abs=0.25)
    # mean field: h² ~ n^{-1/2} at init
    assert slopes["mf"][("h2", 1)] == pytest.approx(-0.5, abs=0.15)


def test_same_curves_as_mups_get_coord_data(batch):
    mup_cc = pytest.importorskip("mup.coord_check")
    from netoptima.mup.mup_twin import mup_twin

    X, y = batch
    widths = [64, 256]
    ours = {(r["width"], r["layer"], r["t"]): r["l1"] for r in coord_check("mup", widths, steps=3, data=batch, lr=0.1)}

    def lazy(n):
        gen = torch.Generator().manual_seed(0)  # the same init coord_check draws for seed 0
        return lambda: mup_twin(MLP(784, n, 10, depth=3, parametrization="mup", generator=gen))

    df = mup_cc.get_coord_data({n: lazy(n) for n in widths}, [(X, y)], optimizer="sgd", lr=0.1, mup=True, nsteps=3,
                               lossfn="mse", cuda=False, show_progress=False)
    names = {"hidden.0": "h1", "hidden.1": "h2", "readout": "out"}
    theirs = {(int(r.width), names[r.module], int(r.t)): float(r.l1) for r in df.itertuples() if r.module in names}
    assert set(theirs) == set(ours)
    for k, v in theirs.items():
        # float32, same weights and data: only the order of the readout scaling differs (x/width_mult first)
        assert ours[k] == pytest.approx(v, rel=1e-5), k


def test_plot_and_bad_input(batch, tmp_path):
    recs = coord_check("ntp", [64, 128], steps=2, data=batch)
    path = plot_coord_check(recs, tmp_path / "cc.png", title="ntp")
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="parametrization must be one of 'sp', 'ntp', 'mup', 'mf'"):
        coord_check("μP", [64], steps=1, data=batch)
    with pytest.raises(ValueError, match="widths must be a non-empty sequence"):
        coord_check("mup", [], steps=1, data=batch)
    with pytest.raises(ValueError, match=r"widths\[1\] must be an integer >= 1, got 0"):
        coord_check("mup", [64, 0], steps=1, data=batch)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        coord_check("mup", [64], steps=0, data=batch)
    with pytest.raises(ValueError, match="loss must be one of 'mse', 'xent'"):
        coord_check("mup", [64], steps=1, data=batch, loss="l1")
