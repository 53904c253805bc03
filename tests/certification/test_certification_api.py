"""The front door: Certificate, the registry (MRO dispatch, names resolved lazily), bad input, lazy import."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import netoptima
from netoptima.certification import (
    Certificate,
    NotCertifiable,
    certifier_for,
    certify,
    make_certificate,
    register_certifier,
    registered_certifiers,
)
from netoptima.models import mlp

DT = torch.float64


def test_top_level_api_is_lazy() -> None:
    code = ("import sys, netoptima; assert 'torch' not in sys.modules, 'import netoptima pulled in torch'; "
            "assert 'netoptima.certification' not in sys.modules; "
            "from netoptima import certify, register_certifier, Certificate, NotCertifiable, save, load; "
            "import netoptima.certification as c; assert certify is c.certify and 'certify' in dir(netoptima)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert netoptima.certify is certify
    with pytest.raises(AttributeError):
        netoptima.no_such_name  # noqa: B018


def test_certificate_is_frozen_and_json_able() -> None:
    cert = make_certificate(2.0, 1.5, tol=1e-6, method="m", assumptions=["a"], details={"x": float("inf")},
                            reason="why")
    assert (cert.gap, cert.relative_gap, cert.certified) == (0.5, 0.25, False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cert.gap = 0.0  # type: ignore[misc]
    back = json.loads(cert.to_json())
    assert back["details"] == {"x": "inf", "reason": "why", "tol": 1e-6} and back["assumptions"] == ["a"]
    with pytest.raises(ValueError, match="JSON-able"):
        Certificate(1.0, 0.0, 1.0, 1.0, False, "m", (), {"t": torch.zeros(1)})
    # relative where the objective is large, absolute below 1
    assert make_certificate(1e6, 1e6 - 0.5, tol=1e-6, method="m", assumptions=(), details={}).certified
    assert not make_certificate(0.5, 0.4999, tol=1e-6, method="m", assumptions=(), details={}).certified
    assert not make_certificate(float("nan"), 0.0, tol=1e-6, method="m", assumptions=(), details={}).certified


class Base(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Child(Base):
    pass


class GrandChild(Child):
    pass


class ByName(nn.Module):
    pass


def _constant(tag: str):
    def fn(model, X, y, *, loss=None, tol=1e-6, scale: float = 1.0):
        return make_certificate(scale, 0.0, tol=tol, method=tag, assumptions=(), details={"loss": loss})
    return fn


def test_dispatch_is_mro_aware_and_extensible() -> None:
    register_certifier(Base, _constant("base"))
    register_certifier(Child, _constant("child"))
    assert certify(Base(), np.zeros((2, 1)), np.zeros(2)).method == "base"
    assert certify(GrandChild(), np.zeros((2, 1)), np.zeros(2)).method == "child"  # the most specific
    assert certify(Child(), [[0.0]], [0.0], loss="huber", scale=3.0).objective == 3.0
    register_certifier(f"{__name__}:ByName", f"{__name__}:_by_name_certifier")  # both by name
    assert certify(ByName(), [[0.0]], [0.0]).method == "by-name"
    assert f"{__name__}:ByName" in registered_certifiers()
    klass, _ = certifier_for(nn.Sequential())
    assert klass is nn.Module  # the generic squared-loss certifier
    with pytest.raises(ValueError, match="unknown option 'bogus'.*'scale'"):
        certify(Child(), [[0.0]], [0.0], bogus=1)


def _by_name_certifier(model, X, y, *, loss=None, tol=1e-6):
    return make_certificate(0.0, 0.0, tol=tol, method="by-name", assumptions=(), details={})


def test_not_certifiable_names_the_class_and_the_supported_ones() -> None:
    class Foreign:
        pass

    with pytest.raises(NotCertifiable, match=r"Foreign.*supported: .*torch\.nn\.modules\.module:Module"):
        certify(Foreign(), [[0.0]], [0.0])
    assert issubclass(NotCertifiable, ValueError)
    with pytest.raises(ValueError, match="cls must be"):
        register_certifier("no_colon", _constant("x"))
    with pytest.raises(ValueError, match="fn must be"):
        register_certifier(Base, 3)


@pytest.fixture
def data() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return mlp([3, 16, 2], dtype=DT), torch.randn(6, 3, dtype=DT), torch.randn(6, 2, dtype=DT)


def test_bad_input_is_a_value_error_naming_the_argument(data) -> None:
    model, X, Y = data
    bad = X.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="X must be finite"):
        certify(model, bad, Y)
    badY = Y.clone()
    badY[0, 0] = float("inf")
    with pytest.raises(ValueError, match="y must be finite"):
        certify(model, X, badY)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\)"):
        certify(model, torch.randn(6, 4, dtype=DT), Y)
    with pytest.raises(ValueError, match="y has 5 rows but X has 6"):
        certify(model, X, Y[:5])
    with pytest.raises(ValueError, match="y has shape .* 2 values per sample"):
        certify(model, X, Y[:, 0])
    with pytest.raises(ValueError, match="loss must be one of"):
        certify(model, X, Y, loss="l2")
    with pytest.raises(ValueError, match="loss 'cross_entropy' is not supported"):
        certify(model, X, Y, loss="cross_entropy")
    with pytest.raises(ValueError, match="tol must be"):
        certify(model, X, Y, tol=-1.0)
    with pytest.raises(ValueError, match="weight_decay must be"):
        certify(model, X, Y, weight_decay=float("nan"))
    with pytest.raises(ValueError, match="X must be numeric"):
        certify(model, [["a", "b", "c"]], Y[:1])
    with torch.no_grad():
        model[0].weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="0.weight hold NaN or infinite"):
        certify(model, X, Y)


def test_random_or_oversized_problems_are_refused(data) -> None:
    model, X, Y = data
    noisy = nn.Sequential(model, nn.Dropout(0.5))
    with pytest.raises(ValueError, match="training mode with Dropout"):
        certify(noisy, X, Y)
    assert certify(noisy.eval(), X, Y).objective == certify(model, X, Y).objective
    with pytest.raises(ValueError, match="n·c = 12 rows, above max_gram_size = 10"):
        certify(model, X, Y, max_gram_size=10)


def test_model_that_cannot_take_x_is_a_value_error() -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 1, dtype=DT)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    with pytest.raises(ValueError, match=r"cannot be applied to X of shape \(4, 5\)"):
        certify(Odd(), torch.randn(4, 5, dtype=DT), torch.randn(4, dtype=DT))


@pytest.mark.parametrize("seed", range(6))
def test_lower_bound_never_exceeds_objective(seed: int, one_thread: None) -> None:
    torch.manual_seed(seed)
    n = [4, 12, 30][seed % 3]
    model = mlp([3, [4, 32][seed % 2], 2], activation=[nn.Tanh, nn.ReLU][seed % 2], dtype=DT)
    X, Y = torch.randn(n, 3, dtype=DT), torch.randn(n, 2, dtype=DT)
    for options in ({}, {"weight_decay": 1e-3}, {"last_layer": True}, {"last_layer": True, "weight_decay": 0.1}):
        cert = certify(model, X, Y, **options)
        assert cert.lower_bound <= cert.objective, options
        assert cert.certified == (cert.gap <= 1e-6 * max(1.0, cert.objective))
        json.dumps(cert.to_dict(), allow_nan=False)
