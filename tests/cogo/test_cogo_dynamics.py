"""The potentials' Jacobian Gram J Jᵀ against autograd, and its decoupling with width (spec §6a)."""

from __future__ import annotations

import pytest
import torch

from netoptima.cogo import decoupling_ratio, default_init, monomial_potentials
from netoptima.cogo.dynamics import potential_gram, potential_indices


def _autograd_gram(W: tuple[torch.Tensor, ...]) -> torch.Tensor:
    W_a, W_b, W_c = W
    q, d = W_a.shape
    idx = potential_indices(d)

    def r(flat: torch.Tensor) -> torch.Tensor:
        Wa, Wb, Wc = flat[: q * d].view(q, d), flat[q * d: 2 * q * d].view(q, d), flat[2 * q * d:].view(d, q)
        A = torch.fft.fft(Wa, dim=-1).T / d
        B = torch.fft.fft(Wb, dim=-1).T / d
        C = torch.fft.ifft(Wc, dim=-2)
        v = monomial_potentials(A, B, C).r[idx[:, 0], idx[:, 1], idx[:, 2]]
        return torch.cat([v.real, v.imag])

    J = torch.autograd.functional.jacobian(r, torch.cat([w.flatten() for w in W]))  # (2P, 3qd)
    return J @ J.T


@pytest.mark.parametrize("d,q", [(3, 2), (5, 3), (7, 4)])
def test_closed_form_gram_equals_autograd(d, q):
    W = tuple(w.double() for w in default_init(d, q, seed=d))
    G = potential_gram(W, chunk=2)  # several chunks
    # float64 sums of O(q·d) products of O(1) numbers: 1e-12 absolute on entries of size ~1e-1
    assert torch.allclose(G, _autograd_gram(W), atol=1e-12, rtol=0)


def test_offdiagonal_share_falls_with_width():
    ratios = [sum(decoupling_ratio(default_init(5, q, seed=s)) for s in range(3)) / 3 for q in (16, 256)]
    # q^-1/2 predicts a factor 4 over 16x more nodes; finite-q corrections keep it above 2
    assert ratios[1] < ratios[0] / 2
