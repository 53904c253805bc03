"""The semi-ring of CoGO solutions: + concatenates hidden nodes, * multiplies node pairs (Tian 2024 Sec. 4; spec §3).

A :class:`Solution` holds the Fourier coefficients z_{pkj} (p ∈ {a, b, c}) of q hidden nodes at a set of
frequency labels k ≥ 0. Label k stands for the pair ±k: real weights have z_{p,−k,j} = conj(z_{pkj}), so only
k ≥ 0 is stored, and every other frequency is zero. Labels are free of the modulus d until
:meth:`Solution.to_weights` places them in Z_d. Every sum potential ρ(z) = Σ_j Π z_{pkj}^{(±)} is a ring
homomorphism: ρ(z1 + z2) = ρ(z1) + ρ(z2) and ρ(z1 * z2) = ρ(z1) ρ(z2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

from netoptima.cogo.fourier import fourier_weights
from netoptima.cogo.model import QuadraticNet, Weights, check_odd_modulus, check_weights
from netoptima.conventions import check_int

__all__ = ["Solution"]

_TERM = re.compile(r"(\^?)([abc])")


def _as_block(x: Tensor | Sequence[complex], name: str) -> Tensor:
    # via numpy: torch.as_tensor of a Python list holding complex numbers would give complex64
    t = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x, dtype=np.complex128))
    if t.dtype == torch.bool:
        raise ValueError(f"{name} must hold numbers, got dtype {t.dtype}")
    t = t.detach().to(torch.complex128)
    return t[None, :] if t.ndim == 1 else t


class Solution:
    """A ring element z = {z_{pkj}}: q hidden nodes, Fourier coefficients at frequency labels ``freqs``.

    Arguments:
        a, b, c: complex (or real) arrays of shape ``(K, q)`` (``(q,)`` when K = 1): the coefficients
            z_{a,k,j}, z_{b,k,j}, z_{c,k,j} at the K labels.
        freqs: K distinct frequency labels k ≥ 0 (default ``(1,)``: a single-frequency block). Label 0 is the
            DC component and must hold real numbers.

    Raises:
        ValueError: a, b, c of different shapes, a first axis that does not match ``freqs``, repeated or
            negative labels, complex DC coefficients.
    """

    __slots__ = ("a", "b", "c", "freqs")

    def __init__(self, a: Tensor | Sequence[complex], b: Tensor | Sequence[complex], c: Tensor | Sequence[complex],
                 *, freqs: Sequence[int] = (1,)) -> None:
        a, b, c = _as_block(a, "a"), _as_block(b, "b"), _as_block(c, "c")
        if not (a.shape == b.shape == c.shape) or a.ndim != 2:
            raise ValueError(f"a, b, c must be blocks of one shape (K, q) or (q,); got {tuple(a.shape)}, "
                             f"{tuple(b.shape)}, {tuple(c.shape)}")
        freqs = tuple(int(k) for k in freqs)
        if len(freqs) != a.shape[0]:
            raise ValueError(f"freqs has {len(freqs)} labels but the blocks have {a.shape[0]} rows (K, q) = "
                             f"{tuple(a.shape)}")
        if any(k < 0 for k in freqs) or len(set(freqs)) != len(freqs):
            raise ValueError(f"freqs must be distinct labels k >= 0 (k stands for ±k), got {freqs}")
        if 0 in freqs:
            i = freqs.index(0)
            imag = max(float(x[i].imag.abs().max()) if x.shape[1] else 0.0 for x in (a, b, c))
            if imag > 1e-12:
                raise ValueError(f"the DC row (label 0) must be real for real weights; max |imag| = {imag:.3g}")
        self.a, self.b, self.c, self.freqs = a, b, c, freqs

    # ------------------------------------------------------------------ structure
    @property
    def order(self) -> int:
        """Number of hidden nodes q."""
        return int(self.a.shape[1])

    def __repr__(self) -> str:
        return f"Solution(order={self.order}, freqs={self.freqs})"

    @classmethod
    def zero(cls) -> Solution:
        """The additive identity: the empty network (order 0)."""
        e = torch.zeros(0, 0, dtype=torch.complex128)
        return cls(e, e, e, freqs=())

    @classmethod
    def one(cls, freqs: Sequence[int] = (1,)) -> Solution:
        """The multiplicative identity on ``freqs``: one node with z_{pk} = 1 (weights d·e_0 in Z_d)."""
        o = torch.ones(len(tuple(freqs)), 1, dtype=torch.complex128)
        return cls(o, o, o, freqs=freqs)

    def coef(self, p: str, k: int) -> Tensor:
        """z_{p,k,·} as a ``(q,)`` complex vector; k < 0 gives conj(z_{p,|k|,·}); absent labels give 0."""
        if p not in ("a", "b", "c"):
            raise ValueError(f"p must be one of 'a', 'b', 'c', got {p!r}")
        row = getattr(self, p)
        if abs(k) not in self.freqs:
            return torch.zeros(self.order, dtype=torch.complex128)
        v = row[self.freqs.index(abs(k))]
        return v.conj() if k < 0 else v

    def sp(self, monomial: str | Iterable[tuple[str, int]], k: int = 1) -> complex:
        """Sum potential ρ(z) = Σ_j Π_terms z_{p,k,j} (spec §3).

        Arguments:
            monomial: either a string in the code's notation at one frequency, e.g. ``"abc"``, ``"^abc"``
                (^ = conjugate, i.e. frequency −k), ``"a^ac"``; or explicit terms ``[("a", k1), ("b", k2),
                ("c", k)]`` where a negative frequency means the conjugate.
            k: the frequency of the string form.
        """
        if isinstance(monomial, str):
            terms = _TERM.findall(monomial)
            if not terms or "".join(c + p for c, p in terms) != monomial:
                raise ValueError(f"monomial must be letters a/b/c each optionally preceded by ^, got {monomial!r}")
            pairs = [(p, -k if conj else k) for conj, p in terms]
        else:
            pairs = list(monomial)
        prod = torch.ones(self.order, dtype=torch.complex128)
        for p, kk in pairs:
            prod = prod * self.coef(p, int(kk))
        return complex(prod.sum())

    # ------------------------------------------------------------------ ring operations
    def _rows(self, freqs: Sequence[int]) -> tuple[Tensor, Tensor, Tensor]:
        """Coefficients re-indexed on ``freqs`` (zeros where this solution has no label)."""
        out = [torch.zeros(len(freqs), self.order, dtype=torch.complex128) for _ in range(3)]
        for i, k in enumerate(freqs):
            if k in self.freqs:
                src = self.freqs.index(k)
                for o, x in zip(out, (self.a, self.b, self.c), strict=True):
                    o[i] = x[src]
        return out[0], out[1], out[2]

    def __add__(self, other: Solution) -> Solution:
        """Ring sum: concatenate hidden nodes (order q1 + q2); labels are merged."""
        if not isinstance(other, Solution):
            return NotImplemented
        freqs = tuple(sorted(set(self.freqs) | set(other.freqs)))
        mine, theirs = self._rows(freqs), other._rows(freqs)
        a, b, c = (torch.cat([x, y], dim=1) for x, y in zip(mine, theirs, strict=True))
        return Solution(a, b, c, freqs=freqs)

    def __radd__(self, other: object) -> Solution:
        if isinstance(other, int) and other == 0:  # lets sum([...]) start from 0
            return self
        return NotImplemented

    def __mul__(self, other: Solution) -> Solution:
        """Ring product: node (j1, j2) has z_{pk} = z1_{pkj1} z2_{pkj2} (order q1·q2), spec §3.

        In weight space this is the scaled circular convolution (1/d) W^{(j1)} ⊛ W^{(j2)}. Labels present in
        only one factor are zero in the product and are dropped.
        """
        if not isinstance(other, Solution):
            return NotImplemented
        freqs = tuple(k for k in self.freqs if k in other.freqs)
        x, y = self._rows(freqs), other._rows(freqs)
        q1, q2 = self.order, other.order
        a, b, c = ((u[:, :, None] * v[:, None, :]).reshape(len(freqs), q1 * q2)  # (K, q1·q2), node j1·q2 + j2
                   for u, v in zip(x, y, strict=True))
        return Solution(a, b, c, freqs=freqs)

    def scale(self, *, ab: complex | Tensor = 1.0, c: complex | Tensor = 1.0) -> Solution:
        """Multiply a and b by ``ab`` and c by ``c`` (scalars or per-node ``(q,)`` vectors)."""
        ab_t = torch.as_tensor(ab, dtype=torch.complex128)
        c_t = torch.as_tensor(c, dtype=torch.complex128)
        return Solution(self.a * ab_t, self.b * ab_t, self.c * c_t, freqs=self.freqs)

    def at(self, k: int) -> Solution:
        """The same single-label block moved to frequency label ``k`` ≥ 1."""
        if len(self.freqs) != 1:
            raise ValueError(f"at() moves a single-frequency block; this solution has labels {self.freqs}")
        if int(k) < 1:
            raise ValueError(f"k must be a frequency label >= 1, got {k}")
        return Solution(self.a, self.b, self.c, freqs=(int(k),))

    def normalized(self, d: int) -> Solution:
        """Rescale c at every label k ≢ 0 (mod d) so that r_kkk = 2d Σ_j a b c = 1 (the 1-set), spec §4."""
        d = check_odd_modulus(d)
        c = self.c.clone()
        for i, k in enumerate(self.freqs):
            if k % d == 0:
                continue
            s = complex((self.a[i] * self.b[i] * self.c[i]).sum()) * 2 * d
            if abs(s) < 1e-300:
                raise ValueError(f"cannot normalise label {k}: Σ_j a b c = 0 there")
            c[i] = c[i] / s
        return Solution(self.a, self.b, c, freqs=self.freqs)

    # ------------------------------------------------------------------ weights
    def fourier(self, d: int) -> tuple[Tensor, Tensor, Tensor]:
        """(A, B, C) of shape (d, q) in Z_d: row k mod d gets z_k, row −k mod d gets conj(z_k)."""
        d = check_odd_modulus(d)
        seen: dict[int, int] = {}
        for k in self.freqs:
            r = k % d
            key = min(r, (d - r) % d)
            if key in seen:
                raise ValueError(f"labels {seen[key]} and {k} are the same frequency pair ±{key} in Z_{d}")
            seen[key] = k
        out = []
        for x in (self.a, self.b, self.c):
            X = torch.zeros(d, self.order, dtype=torch.complex128)  # (d, q)
            for i, k in enumerate(self.freqs):
                X[k % d] = x[i]
                X[(-k) % d] = x[i].conj() if k % d else x[i].real.to(torch.complex128)
            out.append(X)
        return out[0], out[1], out[2]

    def to_weights(self, d: int, *, width: int | None = None) -> Weights:
        """Real float64 weights ``(W_a (q, d), W_b (q, d), W_c (d, q))`` of this solution in Z_d.

        Arguments:
            d: odd modulus. width: pad with zero nodes to this many hidden nodes (≥ the order).
        """
        from netoptima.cogo.fourier import weights_from_fourier

        W_a, W_b, W_c = weights_from_fourier(*self.fourier(d))
        if width is None:
            return W_a, W_b, W_c
        width = check_int("width", width, low=1)
        if width < self.order:
            raise ValueError(f"width must be >= the solution's order {self.order} (one hidden node per ring "
                             f"node), got {width}")
        pad = width - self.order
        return (torch.cat([W_a, W_a.new_zeros(pad, d)]), torch.cat([W_b, W_b.new_zeros(pad, d)]),
                torch.cat([W_c, W_c.new_zeros(d, pad)], dim=1))

    def to_model(self, d: int, *, width: int | None = None) -> QuadraticNet:
        """A float64 :class:`QuadraticNet` with these weights (zero nodes pad it to ``width``)."""
        return QuadraticNet.from_weights(self.to_weights(d, width=width))

    @classmethod
    def from_model(cls, model: QuadraticNet | Weights) -> Solution:
        """All Fourier coefficients of a net with odd d, labels 0..(d−1)/2 (exact round trip)."""
        if isinstance(model, QuadraticNet):
            d = model.d
        else:
            d, _ = check_weights(model)
        d = check_odd_modulus(d)
        A, B, C = fourier_weights(model)
        freqs = tuple(range((d - 1) // 2 + 1))
        rows = [X[list(freqs)].clone() for X in (A, B, C)]
        for X in rows:  # the DC row of real weights is real; drop round-off
            X[0] = X[0].real.to(torch.complex128)
        return cls(*rows, freqs=freqs)
