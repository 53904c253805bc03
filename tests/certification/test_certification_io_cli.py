"""save / load (weights_only, never unpickled code) and the ``netoptima certify`` command of this package."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from netoptima.certification import load, register_model, save
from netoptima.certification.cli import certify_main
from netoptima.models import Quadratic, TwoLayerReLUNTK, mlp

DT = torch.float64


def _same(a: nn.Module, b: nn.Module, X: torch.Tensor) -> None:
    assert type(a) is type(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) and sa[k].dtype == sb[k].dtype for k in sa)
    assert [p.requires_grad for p in a.parameters()] == [p.requires_grad for p in b.parameters()]
    assert a.training == b.training
    with torch.no_grad():
        assert torch.equal(a(X), b(X))


def nested() -> nn.Module:
    return nn.Sequential(OrderedDict(
        body=nn.Sequential(nn.Linear(4, 6), nn.GELU(approximate="tanh"), nn.Linear(6, 6, bias=False),
                           nn.Softplus(beta=2.0, threshold=10.0)),
        sq=Quadratic(), head=nn.Linear(6, 3), out=nn.LeakyReLU(0.3)))


@pytest.mark.parametrize("build", [lambda: mlp([4, 8, 8, 1], activation=nn.Tanh, dtype=DT), nested,
                                   lambda: TwoLayerReLUNTK(4, 16, generator=torch.Generator().manual_seed(0))])
def test_save_load_round_trip_with_weights_only(build, tmp_path: Path) -> None:
    torch.manual_seed(7)
    model = build()
    model.eval()
    path = save(model, tmp_path / "m.pt")
    raw = torch.load(path, weights_only=True)  # a plain dict: nothing to unpickle but tensors and strings
    assert raw["format"] == "netoptima.model/1" and isinstance(json.loads(raw["spec"]), dict)
    X = torch.randn(5, 4, dtype=next(model.parameters()).dtype)
    _same(model, load(path), X)


class Affine(nn.Module):
    def __init__(self, d: int, scale: float) -> None:
        super().__init__()
        self.d, self.scale = d, scale
        self.lin = nn.Linear(d, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.lin(x)


class Scaled(Affine):
    pass


def test_registered_class_round_trip_and_refusals(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot save Affine"):
        save(Affine(3, 2.0), tmp_path / "a.pt")
    with pytest.raises(ValueError, match="cannot save Affine at '1'"):
        save(nn.Sequential(nn.Linear(3, 3), Affine(3, 2.0)), tmp_path / "a.pt")
    register_model(Affine, lambda m: {"d": m.d, "scale": m.scale})
    model = Affine(3, 2.0)
    model.lin.bias.requires_grad_(False)
    _same(model, load(save(model, tmp_path / "a.pt")), torch.randn(2, 3))
    register_model(f"{__name__}:Affine")  # a name never shadows the class's own registration
    _same(model, load(save(model, tmp_path / "a.pt")), torch.randn(2, 3))
    blob = torch.load(tmp_path / "a.pt", weights_only=True)
    header = json.loads(blob["spec"])
    header["spec"]["class"] = f"{__name__}:Scaled"
    blob["spec"] = json.dumps(header)
    torch.save(blob, tmp_path / "scaled.pt")
    with pytest.raises(ValueError, match="Scaled', which is not a registered"):
        load(tmp_path / "scaled.pt")
    register_model(f"{__name__}:Scaled")  # by name: the class is looked up only when a file needs it
    scaled = load(tmp_path / "scaled.pt")
    assert type(scaled) is Scaled and torch.equal(scaled.lin.weight, model.lin.weight)

    torch.save(model, tmp_path / "pickled.pt")  # a pickled module: weights_only refuses to run its code
    with pytest.raises(ValueError, match="cannot read .* weights-only"):
        load(tmp_path / "pickled.pt")
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="not a model saved by netoptima.save"):
        load(tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="does not exist"):
        load(tmp_path / "missing.pt")
    blob = torch.load(tmp_path / "a.pt", weights_only=True)
    header = json.loads(blob["spec"])
    header["spec"]["class"] = "os:system"
    blob["spec"] = json.dumps(header)
    torch.save(blob, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="'os:system', which is not a registered"):
        load(tmp_path / "evil.pt")


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    torch.manual_seed(0)
    model = mlp([3, 32, 1], activation=nn.Tanh, dtype=DT)
    g = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=g.standard_normal((10, 3)), y=g.standard_normal(10))
    return str(save(model, tmp_path / "m.pt")), str(tmp_path / "d.npz")


def test_cli_table_and_json(files, capsys: pytest.CaptureFixture[str]) -> None:
    model, data = files
    assert certify_main([model, data]) == 0
    out = capsys.readouterr().out
    for row in ("objective", "lower bound", "gap", "certified", "method", "assumption", "squared_loss_pl"):
        assert row in out
    assert certify_main([model, data, "--json", "--last-layer", "--weight-decay", "1e-3"]) == 0
    cert = json.loads(capsys.readouterr().out)
    assert cert["method"] == "last_layer_least_squares" and cert["details"]["weight_decay"] == 1e-3
    assert cert["lower_bound"] <= cert["objective"] and cert["certified"] is False
    assert cert["model_class"] == "Sequential"


@pytest.mark.parametrize("extra, message", [
    (["--loss", "l2"], "loss must be one of"),
    (["--loss", "cross_entropy"], "not supported"),
    (["--tol", "abc"], "--tol must be a number"),
    (["--bogus", "1"], "unknown option 'bogus'"),
    (["stray"], "unexpected argument 'stray'"),
])
def test_cli_bad_options_exit_2(files, extra, message, capsys: pytest.CaptureFixture[str]) -> None:
    model, data = files
    assert certify_main([model, data, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_bad_files_exit_2(files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, data = files
    np.savez(tmp_path / "noy.npz", X=np.zeros((3, 3)))
    np.savez(tmp_path / "wide.npz", X=np.zeros((3, 5)), y=np.zeros(3))
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    cases = [([str(tmp_path / "nope.pt"), data], "does not exist"),
             ([str(tmp_path / "junk.pt"), data], "cannot read"),
             ([model, str(tmp_path / "noy.npz")], "must contain arrays 'X' and 'y'"),
             ([model, str(tmp_path / "wide.npz")], "X must have shape (n, 3)"),
             ([model, "data.csv"], "must be a .npz file"),
             ([model], "the following arguments are required")]
    for argv, message in cases:
        assert certify_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_save_to_a_bad_path_is_a_clear_error(tmp_path):
    import torch

    from netoptima import save

    net = torch.nn.Sequential(torch.nn.Linear(2, 1))
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="does not exist or is a file"):
        save(net, tmp_path / "file" / "model.pt")
    with pytest.raises(ValueError, match="is a directory"):
        save(net, tmp_path)
    assert save(net, tmp_path / "m.pt").is_file() and not list(tmp_path.glob(".*.tmp"))
