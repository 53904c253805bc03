"""Feature metrics: relative feature change and λ_min of the feature Gram, against direct float64 formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netoptima.mup import feature_change, feature_gram_min_eig


def test_feature_change_matches_numpy_per_probe():
    rng = np.random.default_rng(0)
    h0, h = rng.normal(size=(7, 30)), rng.normal(size=(7, 30))
    want = np.linalg.norm(h - h0, axis=1) / np.linalg.norm(h0, axis=1)
    got = feature_change(torch.from_numpy(h).float(), torch.from_numpy(h0).float())
    assert got.dtype == torch.float64 and got.shape == (7,)
    # float32 inputs, float64 arithmetic: the only error is the float32 rounding of h and h0 (~1e-7 relative)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    assert torch.equal(feature_change(torch.from_numpy(h0), torch.from_numpy(h0)), torch.zeros(7, dtype=torch.float64))
    # scale invariance: the ratio does not change when both features are scaled together
    torch.testing.assert_close(feature_change(3 * torch.from_numpy(h), 3 * torch.from_numpy(h0)),
                               torch.from_numpy(want), rtol=1e-12, atol=0)


def test_feature_change_rejects_bad_input():
    with pytest.raises(ValueError, match=r"h and h0 must have the same shape \(N, n\), got \(3, 4\) and \(3, 5\)"):
        feature_change(torch.ones(3, 4), torch.ones(3, 5))
    with pytest.raises(ValueError, match=r"h0 is exactly zero for probe\(s\) \[1\]"):
        feature_change(torch.ones(3, 4), torch.tensor([[1.0] * 4, [0.0] * 4, [2.0] * 4]))
    with pytest.raises(ValueError, match="h must be a 2-D tensor"):
        feature_change(torch.ones(4), torch.ones(4))
    with pytest.raises(ValueError, match="non-finite"):
        feature_change(torch.full((2, 3), float("nan")), torch.ones(2, 3))


def test_gram_min_eig_matches_explicit_eigvalsh():
    rng = np.random.default_rng(1)
    H = rng.normal(size=(12, 80))
    K = H @ H.T  # the paper's K_ij = <h(x_i), h(x_j)>
    lam = np.linalg.eigvalsh(K)[0]
    # K is well conditioned here (N/n = 0.15), so eigvalsh of the explicit Gram is accurate to ~1e-13 relative
    assert feature_gram_min_eig(torch.from_numpy(H)) == pytest.approx(lam, rel=1e-10)
    assert feature_gram_min_eig(torch.from_numpy(H), normalize=True) == pytest.approx(lam / 80, rel=1e-10)
    # a rotation of the feature coordinates leaves K unchanged
    Q, _ = np.linalg.qr(rng.normal(size=(80, 80)))
    assert feature_gram_min_eig(torch.from_numpy(H @ Q)) == pytest.approx(lam, rel=1e-10)


def test_gram_min_eig_sees_linear_dependence():
    rng = np.random.default_rng(2)
    H = rng.normal(size=(6, 40))
    H[5] = 0.3 * H[0] - 2.0 * H[2]  # probe 6 is a combination of probes 1 and 3: K is singular
    lam = feature_gram_min_eig(torch.from_numpy(H))
    # σ_min of a rank-5 float64 matrix of norm ~10 is ~1e-15; its square ~1e-30 (relative to λ_max ~ 50)
    assert lam < 1e-20
    assert feature_gram_min_eig(torch.from_numpy(H[:5])) > 1.0


def test_gram_needs_fewer_probes_than_width():
    H = torch.randn(10, 10, dtype=torch.float64)
    assert feature_gram_min_eig(H) > 0  # N = n is allowed (square, generically full rank)
    with pytest.raises(ValueError, match=r"probe set \(N=11\) is larger than the width \(n=10\).*λ_min\(K\) = 0"):
        feature_gram_min_eig(torch.randn(11, 10))
    with pytest.raises(ValueError, match="normalize must be True or False"):
        feature_gram_min_eig(torch.randn(3, 10), normalize=1)
