"""certify_cli: load a saved net and a data set, print the certificate; one-line errors with exit code 2."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netoptima.convex.certificate import certificate
from netoptima.convex.cli import certify_cli, load_net, save_net
from netoptima.convex.data import planted_demo
from netoptima.convex.model import RELU_FIT_ACTIVATION, QuadraticActivationNet
from netoptima.convex.solver import fit_global

ACT = RELU_FIT_ACTIVATION


def test_save_load_round_trip(tmp_path):
    net = QuadraticActivationNet(5, 3, activation=ACT, generator=torch.Generator().manual_seed(1))
    back = load_net(save_net(net, tmp_path / "net.pt"))
    assert torch.equal(back.U, net.U) and torch.equal(back.alpha, net.alpha) and back.abc == net.abc


def test_certify_npz_prints_the_certificate(tmp_path, capsys):
    X, y, _, _ = planted_demo(40, 4, neurons=3, power=1, activation=ACT, seed=0)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    res = fit_global(X, y, activation=ACT, beta=0.1, tol=1e-7, max_iter=200, polish_steps=100)
    save_net(res.net, tmp_path / "opt.pt")
    assert certify_cli([str(tmp_path / "opt.pt"), str(tmp_path / "data.npz"), "--beta", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "globally optimal" in out
    assert f"{res.certificate.lower_bound:.12g}" in out
    bad = QuadraticActivationNet(4, 2, activation=ACT, generator=torch.Generator().manual_seed(0))
    save_net(bad, tmp_path / "bad.pt")
    assert certify_cli([str(tmp_path / "bad.pt"), str(tmp_path / "data.npz"), "--beta", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "above the global optimum" in out
    assert f"{certificate(bad, X, y, beta=0.1).gap:.4g}" in out


def test_certify_digits_one_vs_all(tmp_path, capsys):
    save_net(QuadraticActivationNet(64, 2, activation=ACT), tmp_path / "net.pt")
    assert certify_cli([str(tmp_path / "net.pt"), "digits", "--digit", "3", "--n", "200", "--beta", "1"]) == 0
    assert "n 200" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["{tmp}/missing.pt", "{tmp}/data.npz", "--beta", "0.1"], "does not exist"),
    (["{tmp}/net.pt", "{tmp}/data.npz", "--beta", "zero"], "--beta must be a number, got 'zero'"),
    (["{tmp}/net.pt", "{tmp}/data.npz", "--beta", "-1"], "beta must be a finite number > 0"),
    (["{tmp}/net.pt", "digits", "--beta", "1"], "needs --digit"),
    (["{tmp}/net.pt", "{tmp}/data.csv", "--beta", "1"], "must be 'mnist', 'digits' or a .npz"),
    (["{tmp}/net.pt", "{tmp}/data.npz", "--beta", "1", "--loss", "hinge"], "loss must be one of"),
    (["{tmp}/data.npz", "{tmp}/data.npz", "--beta", "1"], "cannot read"),
    (["{tmp}/wide.pt", "{tmp}/data.npz", "--beta", "1"], "X has 4 features but the net expects d = 7"),
])
def test_certify_errors_are_one_line_with_exit_code_2(tmp_path, capsys, argv, needle):
    X, y, _, _ = planted_demo(10, 4, neurons=1, power=1, activation=ACT, seed=0)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    save_net(QuadraticActivationNet(4, 2, activation=ACT), tmp_path / "net.pt")
    save_net(QuadraticActivationNet(7, 2, activation=ACT), tmp_path / "wide.pt")
    assert certify_cli([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_netoptima_certify_subcommand_forwards_to_certify_cli(tmp_path, capsys):
    from netoptima.cli import main

    X, y, _, _ = planted_demo(20, 3, neurons=1, power=1, activation=ACT, seed=0)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    net = QuadraticActivationNet(3, 2, activation=ACT, generator=torch.Generator().manual_seed(0))
    save_net(net, tmp_path / "net.pt")
    assert main(["certify", str(tmp_path / "net.pt"), str(tmp_path / "data.npz"), "--beta", "0.5"]) == 0
    assert f"{certificate(net, X, y, beta=0.5).gap:.4g}" in capsys.readouterr().out
    assert main(["certify", str(tmp_path / "net.pt"), str(tmp_path / "data.npz"), "--beta", "0"]) == 2
