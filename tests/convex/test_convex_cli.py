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


@pytest.mark.parametrize("argv, needle", [
    (["digits", "--digit", "3", "--n", "-5"], "--n must be an integer in [1, 1797] for digits, got -5"),
    (["digits", "--digit", "3", "--n", "0"], "--n must be an integer in [1, 1797] for digits, got 0"),
    (["digits", "--digit", "3", "--n", "5000"], "--n must be an integer in [1, 1797] for digits, got 5000"),
    (["mnist", "--digit", "3", "--n", "-5"], "--n must be an integer >= 1"),
    (["digits", "--digit", "3", "--split", "test"], "--split applies to mnist only"),
    (["mnist", "--digit", "3", "--split", "validation"], "split must be one of 'train', 'test'"),
    (["{tmp}/data.npz", "--n", "5"], "--n 5 applies to mnist and digits only"),
    (["{tmp}/data.npz", "--digit", "3"], "--digit 3 applies to mnist and digits only"),
    (["{tmp}/data.npz", "--split", "test"], "--split test applies to mnist and digits only"),
    (["{tmp}/broken.npz"], "cannot read"),
])
def test_certify_data_options_are_applied_or_refused(tmp_path, capsys, argv, needle):
    """Issue 17 item 7: a negative --n used to drop rows, --split was ignored for digits, --n/--digit for .npz."""
    X, y, _, _ = planted_demo(10, 64, neurons=1, power=1, activation=ACT, seed=0)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    save_net(QuadraticActivationNet(64, 2, activation=ACT), tmp_path / "net.pt")
    args = [str(tmp_path / "net.pt")] + [a.format(tmp=tmp_path) for a in argv] + ["--beta", "1"]
    assert certify_cli(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_certify_mnist_split_is_honoured(tmp_path, capsys):
    save_net(QuadraticActivationNet(784, 2, activation=ACT), tmp_path / "net.pt")
    outs = []
    for split in ("train", "test"):
        assert certify_cli([str(tmp_path / "net.pt"), "mnist", "--digit", "1", "--n", "30", "--split", split,
                            "--beta", "1"]) == 0
        outs.append(capsys.readouterr().out)
    assert "n 30" in outs[0] and "n 30" in outs[1]
    assert outs[0].split("\n", 2)[2] != outs[1].split("\n", 2)[2]  # different images, different certificate


@pytest.mark.parametrize("state, needle", [
    ({"U": [[1.0, 0.0]], "alpha": [1.0], "activation": [1.0, 0.0, 0.0]},
     "U, alpha and activation must be tensors (as saved by save_net); got U a list, alpha a list, activation a list"),
    ({"U": torch.ones(1, 2, dtype=torch.int64), "alpha": torch.ones(1), "activation": torch.ones(3)},
     "must be floating-point tensors"),
    ({"U": torch.tensor([[float("nan"), 1.0]]), "alpha": torch.ones(1), "activation": torch.ones(3)},
     "the model's U contains NaN or infinite values"),
    ({"U": torch.tensor([[0.0, 1.0]]), "alpha": torch.tensor([float("inf")]), "activation": torch.ones(3)},
     "the model's alpha contains NaN or infinite values"),
])
def test_certify_a_malformed_state_dict_is_a_clear_error(tmp_path, capsys, state, needle):
    torch.save(state, tmp_path / "net.pt")
    X, y, _, _ = planted_demo(10, 2, neurons=1, power=1, activation=ACT, seed=0)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    assert certify_cli([str(tmp_path / "net.pt"), str(tmp_path / "data.npz"), "--beta", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "LAPACK" not in err


def test_certificate_refuses_nan_weights_before_lapack():
    X, y, _, _ = planted_demo(10, 3, neurons=1, power=1, activation=ACT, seed=0)
    net = QuadraticActivationNet(3, 2, activation=ACT, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.alpha[0] = float("nan")
    with pytest.raises(ValueError, match="weights U and alpha must be finite"):
        certificate(net, X, y, beta=0.1)
