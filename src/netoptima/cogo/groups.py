"""CoGO over any finite Abelian group G = Z_{d1} × … × Z_{dk} (spec §1: "use the characters of the group").

Elements and characters are indexed in mixed radix with the last factor fastest (``numpy.ravel_multi_index``
order, as :func:`netoptima.data.abelian_task`). A character of G is a product of characters of the factors,

    χ_k(g) = Π_i ω_i^{k_i g_i},   ω_i = e^{2πi/d_i},

so the group Fourier transform is the multi-dimensional DFT over the factor axes, with the cyclic conventions of
:mod:`netoptima.cogo.fourier` (|G| = N in place of d):

    A[k, j] = (1/N) Σ_g W_a[j, g] conj χ_k(g),  B likewise,  C[k, j] = (1/N) Σ_g W_c[g, j] χ_k(g).

The loss decomposition of spec §2 holds with N for d and the group law of Ĝ ≅ G for the index arithmetic.

Constructions are lifted without an isomorphism G ≅ Z_N (there is none for non-cyclic G): every construction
is a set of single-frequency blocks, one per pair {k, −k} of non-trivial characters, and the loss sees a block
only through its own monomials (its slots ±2k, 0 and the R_n slot (0,0) are the same in every group of odd
order). So the cyclic optimiser for the modulus N is built with the existing code (labels 1..(N−1)/2 number
the character pairs) and its labels are moved to the characters of G: label i ↦ the i-th pair representative
of :func:`character_pairs`. For G = (d,) this is the identity (representatives 1..(d−1)/2).

The transform and the loss decomposition hold for any orders ≥ 3 (checked in the tests on an even group too).
The constructions need odd orders: a character of order 2 is real (χ = conj χ), so its frequency cannot carry
the complex blocks (a, b, c) with their conjugate copies at −k.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from netoptima.cogo.fourier import monomial_potentials
from netoptima.cogo.model import QuadraticNet, Weights, check_weights, projected_l2_loss
from netoptima.cogo.semiring import Solution
from netoptima.conventions import check_int, check_memory

__all__ = [
    "GroupSolution",
    "character_pairs",
    "characters",
    "check_group",
    "group_fourier_loss",
    "group_fourier_weights",
    "group_global_optimizer",
    "group_loss",
    "group_loss_decomposition",
    "group_negation",
    "group_subtraction",
    "group_weights_from_fourier",
]

Group = int | Sequence[int]  # an int d means the cyclic group (d,)


def check_group(G: Group, *, odd: bool = False) -> tuple[int, ...]:
    """Validate a group given as an int d (cyclic) or a sequence of orders; returns the tuple of orders.

    Arguments:
        G: ``d`` or ``(d1, …, dk)``, integers ≥ 3.
        odd: also require odd orders (the constructions and the real-weight symmetry need k ≠ −k).

    Raises:
        ValueError: naming the argument and the allowed range.
    """
    if isinstance(G, (int, np.integer)) and not isinstance(G, bool):
        G = (G,)
    if isinstance(G, (str, bytes)) or not isinstance(G, (Sequence, np.ndarray)) or len(G) == 0:
        raise ValueError(f"G must be an integer d >= 3 or a non-empty sequence of orders >= 3 (G = Z_d1 × … × Z_dk), "
                         f"got {G!r}")
    orders = tuple(check_int(f"G[{i}]", d, low=3) for i, d in enumerate(G))
    if odd and any(d % 2 == 0 for d in orders):
        raise ValueError(f"G must have odd orders >= 3, got {orders}: an even order gives a character of order 2, "
                         f"which is real (χ = conj χ), so its frequency k = −k cannot carry the complex blocks "
                         f"(a, b, c) and their conjugate copies")
    return orders


def _coords(orders: tuple[int, ...]) -> np.ndarray:
    """(N, k) components of every element, mixed radix with the last factor fastest."""
    n = math.prod(orders)
    return np.stack(np.unravel_index(np.arange(n), orders), axis=-1)


def group_negation(G: Group) -> Tensor:
    """Index of −k for every element k of G (or Ĝ, indexed the same way), shape ``(N,)`` int64."""
    orders = check_group(G)
    neg = np.ravel_multi_index(tuple((-_coords(orders) % np.array(orders)).T), orders)
    return torch.as_tensor(neg, dtype=torch.int64)


def group_subtraction(G: Group) -> Tensor:
    """Index of m − k for every pair (m, k) of G, shape ``(N, N)`` int64."""
    orders = check_group(G)
    check_memory(f"group_subtraction(G={orders})", (math.prod(orders),) * 2, (math.prod(orders),) * 2,
                 dtype=torch.int64)
    c = _coords(orders)
    diff = (c[:, None, :] - c[None, :, :]) % np.array(orders)  # (N, N, k)
    return torch.as_tensor(np.ravel_multi_index(tuple(np.moveaxis(diff, -1, 0)), orders), dtype=torch.int64)


def characters(G: Group) -> Tensor:
    """The character table χ[k, g] = Π_i exp(2πi k_i g_i / d_i), complex128 ``(N, N)``.

    Built as the Kronecker product of the factors' tables (a character of G is a product of characters of the
    factors), which is the mixed-radix indexing with the last factor fastest.
    """
    orders = check_group(G)
    check_memory(f"characters(G={orders})", (math.prod(orders),) * 2, dtype=torch.complex128)
    chi = torch.ones(1, 1, dtype=torch.complex128)
    for d in orders:
        k = torch.arange(d, dtype=torch.float64)
        chi = torch.kron(chi, torch.exp(2j * math.pi * torch.outer(k, k) / d))
    return chi


def character_pairs(G: Group) -> list[int]:
    """Representatives of the pairs {k, −k} of non-trivial characters of an odd-order G: the smaller index of each.

    Returns (N−1)/2 indices in increasing order; for G = (d,) they are 1..(d−1)/2, the cyclic frequency labels.
    """
    orders = check_group(G, odd=True)
    neg = group_negation(orders).tolist()
    return [k for k in range(1, math.prod(orders)) if neg[k] > k]


def group_fourier_weights(weights: QuadraticNet | Weights, G: Group) -> tuple[Tensor, Tensor, Tensor]:
    """(A, B, C) over the characters of G in the spec's sign conventions (the cyclic :func:`fourier_weights` for
    G = (d,)).

    Arguments:
        weights: a :class:`QuadraticNet` or real ``(W_a (…, q, N), W_b, W_c (…, N, q))``, N = |G|.
        G: an int d or the orders (d1, …, dk).

    Returns:
        complex128 ``(…, N, q)`` tensors indexed ``[k, j]``.
    """
    orders = check_group(G)
    if isinstance(weights, QuadraticNet):
        weights = weights.weights
    check_weights(tuple(weights), batched=None)
    W_a, W_b, W_c = (w.detach().to(torch.float64) for w in weights)
    n, q = W_a.shape[-1], W_a.shape[-2]
    if n != math.prod(orders):
        raise ValueError(f"the weights act on {n} elements but G = {orders} has {math.prod(orders)}")
    dims = tuple(range(-len(orders), 0))
    lead = W_a.shape[:-2]

    def fwd(W: Tensor, inverse: bool) -> Tensor:  # W: (…, q, N) -> (…, N, q)
        X = W.reshape(*lead, q, *orders)
        Y = torch.fft.ifftn(X, dim=dims) if inverse else torch.fft.fftn(X, dim=dims) / n
        return Y.reshape(*lead, q, n).transpose(-1, -2)

    return fwd(W_a, False), fwd(W_b, False), fwd(W_c.transpose(-1, -2), True)


def group_weights_from_fourier(A: Tensor, B: Tensor, C: Tensor, G: Group, *, atol: float = 1e-9) -> Weights:
    """Inverse of :func:`group_fourier_weights`: real float64 ``(W_a (…, q, N), W_b, W_c (…, N, q))``.

    Raises:
        ValueError: shapes differ from ``(…, N, q)``, or the blocks are not conjugate-symmetric (X[−k] = conj X[k]).
    """
    orders = check_group(G)
    n = math.prod(orders)
    if not (A.shape == B.shape == C.shape) or A.ndim < 2 or A.shape[-2] != n:
        raise ValueError(f"A, B, C must share a shape (…, {n}, q) for G = {orders}, got {tuple(A.shape)}, "
                         f"{tuple(B.shape)}, {tuple(C.shape)}")
    dims = tuple(range(-len(orders), 0))
    lead, q = A.shape[:-2], A.shape[-1]

    def inv(X: Tensor, conj_sign: bool) -> Tensor:  # (…, N, q) -> (…, q, N)
        Y = X.to(torch.complex128).transpose(-1, -2).reshape(*lead, q, *orders)
        W = torch.fft.fftn(Y, dim=dims) if conj_sign else torch.fft.ifftn(Y, dim=dims) * n
        return W.reshape(*lead, q, n)

    W_a, W_b, W_c = inv(A, False), inv(B, False), inv(C, True).transpose(-1, -2)
    for name, w in (("A", W_a), ("B", W_b), ("C", W_c)):
        scale = max(1.0, float(w.abs().max())) if w.numel() else 1.0
        if w.numel() and float(w.imag.abs().max()) > atol * scale:
            raise ValueError(f"{name} is not conjugate-symmetric ({name}[-k] != conj {name}[k]): the weights would "
                             f"be complex (max imaginary part {float(w.imag.abs().max()):.3g})")
    return W_a.real.contiguous(), W_b.real.contiguous(), W_c.real.contiguous()


def group_loss_decomposition(A: Tensor, B: Tensor, C: Tensor, G: Group) -> Tensor:
    """Per-character terms ℓ_k with ℓ = (1/N) Σ_{k≠0} ℓ_k (spec §2 over the characters of G).

    X_{uv} = r_{uvk} − δ_{u=k}δ_{v=k} (u, v ≠ 0); X_{m0} = r_{m0k} + ½ Σ_{k'} r^a_{k',m−k',k};
    X_{0m} = r_{0mk} + ½ Σ_{k'} r^b_{k',m−k',k}; X_{00} gets both sums; m − k' in Ĝ ≅ G. Potentials in paper
    units ×2N (:func:`monomial_potentials`).

    Returns:
        ``(…, N)`` real float64 tensor of ℓ_k (ℓ_0 = 0).
    """
    orders = check_group(G)
    n = math.prod(orders)
    if A.shape[-2] != n:
        raise ValueError(f"A, B, C must have shape (…, {n}, q) for G = {orders}, got {tuple(A.shape)}")
    r, ra, rb = monomial_potentials(A, B, C)
    k = torch.arange(n, device=A.device)
    m_minus = group_subtraction(orders).to(A.device)  # (m, k'): m − k'
    Sa = 0.5 * ra[..., k[None, :], m_minus, :].sum(-2)  # (…, m, k)
    Sb = 0.5 * rb[..., k[None, :], m_minus, :].sum(-2)  # (…, m, k)
    X = r.clone()  # (…, u, v, k)
    X[..., k, k, k] -= 1.0
    X[..., :, 0, :] += Sa
    X[..., 0, :, :] += Sb
    ell = (X.abs() ** 2).sum((-3, -2))
    ell[..., 0] = 0.0
    return ell


def group_fourier_loss(A: Tensor, B: Tensor, C: Tensor, G: Group) -> Tensor:
    """ℓ over all N² pairs from the decomposition, (1/N) Σ_{k≠0} ℓ_k."""
    return group_loss_decomposition(A, B, C, G).sum(-1) / A.shape[-2]


def group_loss(weights: QuadraticNet | Weights, G: Group) -> Tensor:
    """The direct projected L2 loss over all N² pairs of :func:`netoptima.data.abelian_task` (G) (float64)."""
    from netoptima.data import abelian_task

    orders = check_group(G)
    if isinstance(weights, QuadraticNet):
        weights = weights.weights
    W_a, W_b, W_c = (w.detach().to(torch.float64) for w in weights)
    if check_weights((W_a, W_b, W_c))[0] != math.prod(orders):
        raise ValueError(f"the weights act on {W_a.shape[-1]} elements but G = {orders} has {math.prod(orders)}")
    pairs, targets = abelian_task(orders)
    h = W_a.T[pairs[:, 0]] + W_b.T[pairs[:, 1]]  # (N², q)
    return projected_l2_loss((h * h) @ W_c.T, targets)


class GroupSolution(Solution):
    """A :class:`Solution` whose labels are character indices of G (mixed radix, label k stands for ±k).

    ``fourier(G)``, ``to_weights(G)``, ``to_model(G)`` and ``normalized(G)`` take the group as an int d or a
    sequence of odd orders; for an int d they agree with :class:`Solution`. Ring operations return plain
    :class:`Solution` s (labels are kept; re-wrap with ``GroupSolution.of(z)``).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"GroupSolution(order={self.order}, freqs={self.freqs})"

    @classmethod
    def of(cls, z: Solution) -> GroupSolution:
        """The same coefficients and labels as a :class:`GroupSolution`."""
        return cls(z.a, z.b, z.c, freqs=z.freqs)

    def fourier(self, G: Group) -> tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        """(A, B, C) of shape (N, q): row k gets z_k, row −k (in G) gets conj(z_k)."""
        orders = check_group(G, odd=True)
        n = math.prod(orders)
        neg = group_negation(orders).tolist()
        seen: set[int] = set()
        for k in self.freqs:
            if k >= n:
                raise ValueError(f"label {k} is not a character of G = {orders} (indices 0..{n - 1})")
            if k in seen or neg[k] in seen:
                raise ValueError(f"labels {k} and {neg[k]} are the same character pair ±k of G = {orders}")
            seen.add(k)
        out = []
        for x in (self.a, self.b, self.c):
            X = torch.zeros(n, self.order, dtype=torch.complex128)
            for i, k in enumerate(self.freqs):
                X[k] = x[i]
                X[neg[k]] = x[i].conj() if k else x[i].real.to(torch.complex128)
            out.append(X)
        return out[0], out[1], out[2]

    def to_weights(self, G: Group, *, width: int | None = None) -> Weights:  # type: ignore[override]
        """Real float64 ``(W_a (q, N), W_b (q, N), W_c (N, q))`` on G (zero nodes pad to ``width``)."""
        orders = check_group(G, odd=True)
        W_a, W_b, W_c = group_weights_from_fourier(*self.fourier(orders), orders)
        if width is None:
            return W_a, W_b, W_c
        width = check_int("width", width, low=self.order)
        pad, n = width - self.order, W_a.shape[1]
        return (torch.cat([W_a, W_a.new_zeros(pad, n)]), torch.cat([W_b, W_b.new_zeros(pad, n)]),
                torch.cat([W_c, W_c.new_zeros(n, pad)], dim=1))

    def to_model(self, G: Group, *, width: int | None = None) -> QuadraticNet:  # type: ignore[override]
        """A float64 :class:`QuadraticNet` on the N = |G| element indices."""
        return QuadraticNet.from_weights(self.to_weights(G, width=width))

    @classmethod
    def from_model(cls, model: QuadraticNet | Weights, G: Group) -> GroupSolution:  # type: ignore[override]
        """All Fourier coefficients of a net on G (odd orders), labels 0 and :func:`character_pairs` (exact round
        trip through :meth:`to_weights`)."""
        orders = check_group(G, odd=True)
        labels = [0, *character_pairs(orders)]
        rows = [X[labels].clone() for X in group_fourier_weights(model, orders)]
        for X in rows:  # the DC row of real weights is real; drop round-off
            X[0] = X[0].real.to(torch.complex128)
        return cls(*rows, freqs=labels)

    def normalized(self, G: Group) -> GroupSolution:  # type: ignore[override]
        """Rescale c at every non-trivial label so that r_kkk = 2N Σ_j a b c = 1."""
        orders = check_group(G, odd=True)
        return GroupSolution.of(Solution.normalized(self, math.prod(orders)))


def group_global_optimizer(G: Group, orders: int | str | Sequence[int | str] = 6, *, compensation: str = "mixed",
                           seed: int | None = None) -> GroupSolution:
    """A zero-loss network on G with odd orders: one block per character pair (see the module docstring).

    Arguments:
        G: an int d or the odd orders (d1, …, dk), each ≥ 3.
        orders, compensation, seed: as :func:`netoptima.cogo.global_optimizer`; ``orders`` per character pair in
            the order of :func:`character_pairs`.

    Returns:
        A :class:`GroupSolution`; ``.to_weights(G)`` gives ``(W_a (q, N), W_b (q, N), W_c (N, q))``.

    Raises:
        ValueError: bad G (even orders refused: their characters of order 2 are real), or as the cyclic
            ``global_optimizer(N)`` (N above its memory limit, bad ``orders`` or ``compensation``).
    """
    from netoptima.cogo.constructions import global_optimizer, max_modulus

    group = check_group(G, odd=True)
    n = math.prod(group)
    if n > (nmax := max_modulus()):
        raise ValueError(f"G must have a size |G| = prod of its orders in [3, {nmax}] on this machine (the dense "
                         f"solution and its weights need ~400·|G|² bytes), got |G| = {n} for G = {group}")
    z = global_optimizer(n, orders, compensation=compensation, seed=seed)  # labels 0..(N−1)/2 number the pairs
    reps = [0, *character_pairs(group)]
    return GroupSolution(z.a, z.b, z.c, freqs=[reps[k] for k in z.freqs])
