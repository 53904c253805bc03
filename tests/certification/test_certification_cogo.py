"""The CoGO certifier: its objective against the part's own grid loss, the zero-loss construction certified, the
per-frequency decomposition summing to the loss, save/load."""

from __future__ import annotations

import pytest
import torch

from netoptima.certification import certify, load, save

D = 7


def _grid(d: int = D) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.arange(d)
    pairs = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)  # (d², 2)
    return pairs, (pairs[:, 0] + pairs[:, 1]) % d


def test_cogo_objective_and_decomposition_against_the_part(one_thread):
    from netoptima.cogo import QuadraticNet
    from netoptima.cogo.model import pair_loss

    net = QuadraticNet(D, 20, seed=0, dtype=torch.float64)
    X, y = _grid()
    c = certify(net, X, y)
    assert c.method == "cogo_fourier_decomposition" and c.lower_bound == 0.0 and not c.certified
    part_loss = float(pair_loss(tuple(w.detach() for w in net.weights)))  # the part's own grid loss
    assert c.objective == pytest.approx(part_loss, rel=1e-12)
    shares = [f["loss_share"] for f in c.details["frequencies"]]
    assert len(shares) == (D - 1) // 2 and sum(shares) == pytest.approx(c.objective, rel=1e-10)
    assert "frequency ±" in c.details["reason"]
    onehot = torch.cat([torch.nn.functional.one_hot(X[:, 0], D), torch.nn.functional.one_hot(X[:, 1], D)], 1)
    assert certify(net, onehot.double(), y).objective == pytest.approx(c.objective, rel=1e-12)


def test_cogo_global_optimizer_is_certified_and_named(one_thread):
    from netoptima.cogo import QuadraticNet, global_optimizer

    net = QuadraticNet.from_weights(global_optimizer(D, 6).to_weights(D))
    X, y = _grid()
    c = certify(net, X, y)
    assert c.certified and c.objective < 1e-20
    assert all(f["matched"] for f in c.details["frequencies"])  # every frequency named as a known construction


def test_cogo_subset_and_narrow_width(tmp_path, one_thread):
    from netoptima.cogo import QuadraticNet

    X, y = _grid()
    narrow = QuadraticNet(D, 5, seed=1, dtype=torch.float64)  # below 2d − 1 = 13 nodes
    c = certify(narrow, X[:30], y[:30])
    assert c.details.get("frequencies") is None and "may not be attained" in " ".join(c.assumptions)
    save(narrow, tmp_path / "cogo.pt")
    back = load(tmp_path / "cogo.pt")
    assert certify(back, X, y).objective == pytest.approx(certify(narrow, X, y).objective, rel=1e-12)
    with pytest.raises(ValueError, match="residues"):
        certify(narrow, X + D, y)
    with pytest.raises(ValueError, match="not supported"):
        certify(narrow, X, y, loss="cross_entropy")
