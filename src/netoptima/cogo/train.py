"""Training with the paper's protocol, many seeds in one batched tensor program (spec §5).

Protocol (official ``modular_addition_simple2.py`` and ``sweep.log``): Adam(lr=0.01, β=(0.9, 0.999), eps=1e-8) with
*coupled* weight decay (``Adam(weight_decay=wd)``, not AdamW) on W_a, W_b, W_c; full batch (one step per epoch);
PyTorch default init; ``train_test_split(test_size=0.1, random_state=seed)``; 10,000 epochs.

The fast path evaluates the net on the full d×d grid of pairs with a per-seed train mask, so there is no
gather/scatter, and writes the backward pass by hand as three GEMMs per seed:

    H = W_a[:, :, None] + W_b[:, None, :]   σ = H²   O = P⊥W_c σ        (forward)
    G = 2·mask·(O − P⊥Y)/n                  ∂W_c = G σᵀ  ∂σ = W_cᵀ G      (backward)
    ∂W_a = Σ_{g2} 2H ∂σ,  ∂W_b = Σ_{g1} 2H ∂σ

Seeds are the batch axis of the parameters, the Adam step and the small ops; the (pairs × nodes) work H, σ, ∂σ
runs seed by seed on the CPU (one seed's buffers stay in cache from the forward to the backward GEMMs) and for all
seeds at once on a GPU. The buffers are laid out pairs × nodes (nodes innermost) so that building H and σ and the
two reductions run with unit stride over the nodes.

:func:`train_reference` is the straightforward per-seed autograd formulation (gather, square, matmul,
``torch.optim.Adam``), kept as the oracle for tests and the baseline of ``benchmarks/cogo_sweep.py``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from netoptima.cogo.groups import Group, character_pairs, check_group, group_fourier_weights
from netoptima.cogo.model import (
    QuadraticNet,
    Weights,
    check_weights,
    default_init,
    grid_targets,
    projected_l2_loss,
    train_test_indices,
)
from netoptima.cogo.paper import PAPER_LR, PAPER_TEST_SIZE
from netoptima.conventions import check_choice, check_finite_loss, check_int, check_memory, check_real, progress

__all__ = ["ADAM_BETAS", "ADAM_EPS", "TrainResult", "train", "train_reference"]

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
PRUNE_EVERY = 100  # epochs between dead-node checks


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns; every tensor is on the CPU.

    Attributes:
        weights: final ``(W_a (S, q, d), W_b (S, q, d), W_c (S, d, q))``.
        seeds: the S seeds (init and split).
        epochs: epochs (= full-batch steps) at which the history was recorded, ``(T,)``; the last one is the
            final epoch.
        train_loss, test_loss, train_acc, test_acc: ``(T, S)`` at those epochs (before that epoch's step,
            as the official code logs them; the last row is after the final step).
        r_kkk: ``(T, S, d)`` real parts of the diagonal potentials r_kkk (paper units); over a group G, d = |G| and
            k runs over G's characters (mixed radix).
        r_total: ``(T, S)`` Σ_{k1,k2,k} Re r_{k1k2k} (Fig. 3's diagonal + off-diagonal sums).
        sq_norm: ``(T, S)`` squared L2 norm of all weights.
        active: ``(T, S)`` nodes with some weight of magnitude > 0.01.
        orders: ``(T, S, (d−1)/2)`` per-frequency order #{j : |A[k,j]| > 0.05} for k = 1..(d−1)/2 (over G: per pair
            of characters, in the order of :func:`netoptima.cogo.groups.character_pairs`).
        live: ``(T,)`` hidden nodes still trained (the width after pruning, the max over seeds).
        seconds: wall time of the training loop.
        snapshots: ``{epoch: (W_a, W_b, W_c)}`` at the ``snapshot_at`` epochs (weights after that many steps,
            batched like ``weights``): the checkpoints of one continued run.
    """

    weights: Weights
    seeds: list[int]
    epochs: Tensor
    train_loss: Tensor
    test_loss: Tensor
    train_acc: Tensor
    test_acc: Tensor
    r_kkk: Tensor
    r_total: Tensor
    sq_norm: Tensor
    active: Tensor
    orders: Tensor
    live: Tensor
    seconds: float
    config: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)  # epoch -> full-width (W_a, W_b, W_c) after that many steps

    def seed_weights(self, i: int) -> Weights:
        """Weights of the i-th seed, ``(W_a (q, d), W_b (q, d), W_c (d, q))``."""
        return self.weights[0][i], self.weights[1][i], self.weights[2][i]


def _masks(d: int, seeds: Sequence[int], test_size: float, device: torch.device,
           dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Train / test indicator masks over the d² pairs, ``(S, 1, d²)`` each."""
    train = torch.zeros(len(seeds), 1, d * d, dtype=dtype)
    test = torch.zeros_like(train)
    for i, s in enumerate(seeds):
        tr, te = train_test_indices(d, s, test_size=test_size)
        train[i, 0, torch.from_numpy(tr)] = 1.0
        test[i, 0, torch.from_numpy(te)] = 1.0
    return train.to(device), test.to(device)


class _State:
    """Parameters, Adam moments and work buffers of S nets of (current) width q, one flat buffer each.

    Per seed the flat buffer holds ``[W_aᵀ (d, q) | W_bᵀ (d, q) | W_c (d_pad, q)]``: nodes innermost, so that
    the (pairs × nodes) buffers H, σ, ∂σ are built and reduced with unit stride over 512 nodes instead of d = 23
    pairs, and W_c zero-padded to a multiple of 8 classes, a GEMM dimension MKL handles ~10% faster than 23.
    A zero row has zero gradient and zero Adam moments, so Adam (coupled decay included) keeps it exactly zero.
    """

    PAD = 8  # class dimension of the GEMMs rounded up to a multiple of this

    def __init__(self, weights: Weights, m: Weights | None = None, v: Weights | None = None,
                 node_ids: Tensor | None = None, alive: Tensor | None = None) -> None:
        W_a = weights[0]
        S, q, d = W_a.shape
        dp = -(-d // self.PAD) * self.PAD
        self.S, self.q, self.d, self.dp, self.N = S, q, d, dp, d * d
        kw = {"dtype": W_a.dtype, "device": W_a.device}
        self.flat = self._pack(weights)  # (S, P)
        self.m = torch.zeros_like(self.flat) if m is None else self._pack(m)
        self.v = torch.zeros_like(self.flat) if v is None else self._pack(v)
        self.grad = torch.zeros_like(self.flat)
        self.W_a, self.W_b, self.W_c = self._views(self.flat)  # (S, q, d), (S, q, d), (S, d, q) views
        self.aT, self.bT, self.Wc_pad = self._parts(self.flat)  # (S, d, q), (S, d, q), (S, d_pad, q)
        self.g_aT, self.g_bT, self.gWc_pad = self._parts(self.grad)
        self.node_ids = torch.arange(q, device=W_a.device).expand(S, q).clone() if node_ids is None else node_ids
        self.alive = torch.ones(S, q, dtype=torch.bool, device=W_a.device) if alive is None else alive
        # seeds in chunks: on the CPU one by one (cache), on a GPU all at once (one launch per op)
        step = 1 if W_a.device.type == "cpu" else S
        self.chunks = [slice(i, min(i + step, S)) for i in range(0, S, step)]
        self.H = torch.empty(step, d, d, q, **kw)  # h_j(g1, g2) = a_j(g1) + b_j(g2)
        self.sig = torch.empty(step, self.N, q, **kw)  # σ = h², then 2∂ℓ/∂σ and 2h·∂ℓ/∂σ
        self.O = torch.empty(S, dp, self.N, **kw)  # residual, then 2∂ℓ/∂O; rows d.. stay zero
        self.Wcc = torch.zeros(S, dp, q, **kw)  # P⊥W_c, zero-padded
        self.mu = torch.empty(S, 1, q, **kw)
        # the fused Adam kernel exists for CPU and CUDA float tensors
        self.fused = W_a.device.type in ("cpu", "cuda") and hasattr(torch, "_fused_adam_")
        self.step_t = torch.zeros((), dtype=torch.float32, device=W_a.device)

    def _pack(self, weights: Weights) -> Tensor:
        """``(W_a, W_b, W_c)`` in their usual shapes -> a new flat buffer in this layout (padding rows zero)."""
        flat = torch.zeros(self.S, (2 * self.d + self.dp) * self.q, dtype=weights[0].dtype, device=weights[0].device)
        for view, w in zip(self._views(flat), weights, strict=True):
            view.copy_(w)
        return flat

    def _parts(self, flat: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        S, q, d = self.S, self.q, self.d
        return (flat[:, : d * q].view(S, d, q), flat[:, d * q: 2 * d * q].view(S, d, q),
                flat[:, 2 * d * q:].view(S, self.dp, q))

    def _views(self, flat: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        aT, bT, Wc = self._parts(flat)
        return aT.transpose(1, 2), bT.transpose(1, 2), Wc[:, : self.d]

    def _centre(self) -> None:
        torch.mean(self.W_c, 1, keepdim=True, out=self.mu)
        torch.sub(self.W_c, self.mu, out=self.Wcc[:, : self.d])  # P⊥W_c, so O is already centred

    def _forward_part(self, s: slice, negY: Tensor) -> None:
        """Residual of seeds ``s`` into ``O[s]``, leaving their h and σ = h² in the work buffers."""
        H, sig = self.H[: s.stop - s.start], self.sig[: s.stop - s.start]
        torch.add(self.aT[s, :, None, :], self.bT[s, None, :, :], out=H)  # (n, g1, g2, q)
        torch.mul(H.view_as(sig), H.view_as(sig), out=sig)  # (n, N, q): σ(h) = h²
        torch.baddbmm(negY, self.Wcc[s], sig.transpose(1, 2), out=self.O[s])  # (n, d_pad, N)

    def forward(self, negY: Tensor) -> Tensor:
        """Residual ``P⊥o − P⊥e_y`` on every pair, ``(S, d, N)``; negY = −P⊥e_y zero-padded, ``(1, d_pad, N)``."""
        self._centre()
        for s in self.chunks:
            self._forward_part(s, negY)
        return self.O[:, : self.d]

    def gradients(self, negY: Tensor, mask_scale: Tensor) -> None:
        """Forward and backward pass into ``self.grad``; mask_scale = 4·mask/n, ``(S, 1, N)``.

        E = 2G = 2·∂ℓ/∂O (the 2 of σ' = 2h folded in): ∂W_c = Gσᵀ, 2∂σ = W_cᵀE (1ᵀE = 0: W_c acts as P⊥W_c),
        ∂h = 2h·∂σ, ∂W_a = Σ_{g2} ∂h, ∂W_b = Σ_{g1} ∂h. On the CPU one seed at a time, so that its h, σ and ∂σ
        (1 MB each at d = 23, q = 512) are still in cache between the forward and the backward GEMMs.
        """
        self._centre()
        q, d = self.q, self.d
        for s in self.chunks:
            n = s.stop - s.start
            H, sig = self.H[:n], self.sig[:n]
            self._forward_part(s, negY)
            E = self.O[s].mul_(mask_scale[s])  # (n, d_pad, N); rows d.. stay zero
            self.gWc_pad[s].baddbmm_(E, sig, beta=0.0, alpha=0.5)  # (n, d_pad, q): ∂W_c = G σᵀ
            torch.bmm(E.transpose(1, 2), self.Wc_pad[s], out=sig)  # (n, N, q): 2∂σ (σ is not needed any more)
            dh = sig.view(n, d, d, q).mul_(H)  # ∂h = 2h·∂σ
            torch.sum(dh, 2, out=self.g_aT[s])  # Σ_{g2}
            torch.sum(dh, 1, out=self.g_bT[s])  # Σ_{g1}

    def adam_step(self, step: int, *, lr: float, weight_decay: float) -> None:
        """torch.optim.Adam(weight_decay=wd): coupled L2, bias-corrected moments, one fused kernel per step.

        ``torch._fused_adam_`` is the kernel behind ``Adam(fused=True)``; calling it directly skips the
        optimizer's per-step Python bookkeeping (~0.3 ms here, a tenth of an epoch). Where it is missing the
        same update runs as six foreach-free tensor ops.
        """
        if self.fused:
            self.step_t.fill_(float(step))  # the kernel reads the step count after the increment
            torch._fused_adam_([self.flat], [self.grad], [self.m], [self.v], [], [self.step_t], lr=lr,
                               beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1], weight_decay=weight_decay, eps=ADAM_EPS,
                               amsgrad=False, maximize=False)
            return
        b1, b2 = ADAM_BETAS
        self.grad.add_(self.flat, alpha=weight_decay)
        self.m.lerp_(self.grad, 1 - b1)
        self.v.mul_(b2).addcmul_(self.grad, self.grad, value=1 - b2)
        denom = (self.v.sqrt() / (1 - b2**step) ** 0.5).add_(ADAM_EPS)
        self.flat.addcdiv_(self.m, denom, value=-lr / (1 - b1**step))

    def scatter_into(self, full: list[Tensor]) -> None:
        """Write the current nodes back into full-width ``(W_a, W_b, W_c)`` at their original indices."""
        ids, alive = self.node_ids.cpu(), self.alive.cpu()
        for s in range(self.S):
            i, a = ids[s][alive[s]], alive[s]  # padding nodes hold zeros; their originals keep their last values
            full[0][s, i] = self.W_a[s].cpu()[a]
            full[1][s, i] = self.W_b[s].cpu()[a]
            full[2][s][:, i] = self.W_c[s].cpu()[:, a]

    def prune(self, tau: float, full: list[Tensor]) -> bool:
        """Drop nodes whose weights are all below ``tau`` (seeds padded with inert zero nodes); True if it did."""
        mag = torch.maximum(torch.maximum(self.W_a.abs().amax(2), self.W_b.abs().amax(2)),
                            self.W_c.abs().amax(1))  # (S, q)
        live = (mag >= tau) & self.alive
        q_new = max(int(live.sum(1).max()), 1)
        if q_new > 0.9 * self.q:  # not worth reallocating
            return False
        self.scatter_into(full)
        # per seed: live nodes first (stable order), then dead ones as padding
        order = torch.argsort((~live).to(torch.int8), dim=1, stable=True)[:, :q_new]  # (S, q_new)
        keep = torch.gather(live, 1, order)  # (S, q_new): False on padding nodes
        parts = []
        for buf in (self.flat, self.m, self.v):
            Wa, Wb, Wc = self._views(buf)
            idx = order[:, :, None]
            Wa = torch.gather(Wa, 1, idx.expand(-1, -1, self.d)) * keep[:, :, None]
            Wb = torch.gather(Wb, 1, idx.expand(-1, -1, self.d)) * keep[:, :, None]
            Wc = torch.gather(Wc, 2, order[:, None, :].expand(-1, self.d, -1)) * keep[:, None, :]
            parts.append((Wa, Wb, Wc))
        node_ids = torch.gather(self.node_ids, 1, order)
        self.__init__(parts[0], parts[1], parts[2], node_ids, keep)  # type: ignore[misc]
        return True


def _snapshot(W_a: Tensor, W_b: Tensor, W_c: Tensor, thres: float) -> tuple[Tensor, Tensor, Tensor]:
    """Σ_k Re r_kkk per k, Σ Re r_{k1k2k} and per-frequency orders from the current weights (float64)."""
    d = W_a.shape[-1]
    Wa, Wb, Wc = W_a.double(), W_b.double(), W_c.double()
    A = torch.fft.fft(Wa, dim=-1).transpose(-1, -2) / d  # (S, d, q)
    B = torch.fft.fft(Wb, dim=-1).transpose(-1, -2) / d  # (S, d, q)
    C = torch.fft.ifft(Wc, dim=-2)  # (S, d, q)
    r_kkk = (2 * d * (A * B * C).sum(-1)).real  # (S, d)
    # Σ_k A[k,j] = W_a[j, 0] and Σ_k C[k,j] = W_c[0, j], so the sum over all (k1, k2, k) is one dot product
    r_total = 2 * d * (Wa[:, :, 0] * Wb[:, :, 0] * Wc[:, 0, :]).sum(-1)  # (S,)
    orders = (A[:, 1:(d - 1) // 2 + 1].abs() > thres).sum(-1)  # (S, K)
    return r_kkk.cpu(), r_total.cpu(), orders.cpu()


def _group_snapshot(W_a: Tensor, W_b: Tensor, W_c: Tensor, thres: float, group: tuple[int, ...],
                    reps: list[int]) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`_snapshot` over the characters of G: r_kkk per character, Σ Re r_{k1k2k}, orders per pair {k, −k}."""
    n = W_a.shape[-1]
    A, B, C = group_fourier_weights((W_a, W_b, W_c), group)  # (S, N, q) each
    r_kkk = (2 * n * (A * B * C).sum(-1)).real  # (S, N)
    Wa, Wb, Wc = W_a.double(), W_b.double(), W_c.double()
    # Σ_k χ_k(g) = N·[g = 0] for any finite Abelian group, so the sum over all (k1, k2, k) is again one dot product
    r_total = 2 * n * (Wa[:, :, 0] * Wb[:, :, 0] * Wc[:, 0, :]).sum(-1)  # (S,)
    orders = (A[:, reps].abs() > thres).sum(-1)  # (S, (N−1)/2)
    return r_kkk.cpu(), r_total.cpu(), orders.cpu()


def _group_targets(group: tuple[int, ...], *, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Centred one-hot targets of :func:`netoptima.data.abelian_task` on the full grid, ``(N, N²)``."""
    from netoptima.data import abelian_task

    n = math.prod(group)
    _, targets = abelian_task(group)  # (N²,): index of g + h, pair (g, h) at row g·N + h
    Y = torch.nn.functional.one_hot(targets, n).T.to(dtype)  # (N, N²)
    return (Y - 1.0 / n).to(device)


def train(d: Group, width: int, *, seeds: Sequence[int], weight_decay: float, steps: int, lr: float = PAPER_LR,
          test_size: float = PAPER_TEST_SIZE, init: Weights | None = None,
          record_every: int = 100, record_at: Sequence[int] = (), device: str | torch.device = "cpu",
          dtype: torch.dtype = torch.float32,
          order_threshold: float = 0.05, prune_below: float | str | None = "auto",
          snapshot_at: Sequence[int] = (), quiet: bool | None = None) -> TrainResult:
    """Train S = len(seeds) nets at once with the paper's protocol (spec §5); seeds form the batch axis.

    Arguments:
        d: the group: an int d (the cyclic Z_d, d ≥ 2) or a tuple of odd orders (d1, …, dk), each ≥ 3, for
            G = Z_d1 × … × Z_dk (data of :func:`netoptima.data.abelian_task`: elements in mixed radix, pair (g, h)
            at index g·|G| + h, the split as the cyclic one over the |G|² pairs). Even orders are refused for a
            tuple: a character of order 2 is real, so the recorded orders over pairs {k, −k} are undefined there.
            Over G the recorded ``r_kkk`` are per character of G and ``orders`` per pair of
            :func:`netoptima.cogo.groups.character_pairs`; weights have shapes (S, q, |G|) / (S, |G|, q).
        width: hidden nodes q (≥ 1).
        seeds: one seed per net (init as the official code draws it, and the train/test split).
        weight_decay: coupled L2 coefficient of Adam (≥ 0). lr: Adam learning rate (> 0).
        steps: full-batch Adam steps (≥ 1), one per epoch (the paper's 10,000 epochs are 10,000 steps).
        test_size: held-out fraction in [0, 0.99].
        init: optional start weights ``(W_a (S, q, d), W_b, W_c (S, d, q))`` instead of the default init.
        record_every: epochs between history rows (≥ 1). record_at: extra epochs to record (e.g. dense early
            points for Fig. 3).
        device: torch device ("cpu", "cuda", ...). dtype: float32 (the paper's) or float64.
        order_threshold: |A[k,j]| threshold of the recorded orders.
        prune_below: every 100 epochs, drop hidden nodes whose weights are all below τ (``None``: never;
            ``"auto"``: τ = 1e-3·wd, never without weight decay). Weight decay drives the unused nodes
            (~450 of 512) geometrically to float32 denormals (~1e-40) and keeps them there. Below τ a node's
            data gradient, O(τ²·|residual|), is < 1e-3 of its decay term wd·τ, so it can only keep decaying,
            and its output, O(τ³), is far below float32 resolution: removing it changes nothing representable
            while the remaining nodes train several times faster. Pruned nodes keep their last values in the
            returned weights.
        snapshot_at: epochs (0..steps) at which to keep a copy of all weights (the paper's epoch-9900
            checkpoint of a run that continues); they are also recorded in the history.
        quiet: silence the progress bar.

    Returns:
        :class:`TrainResult`.

    Raises:
        ValueError: bad arguments. TrainingDiverged: a seed's training loss became non-finite or blew up
            (:func:`netoptima.conventions.check_finite_loss` against the starting loss).
    """
    group: tuple[int, ...] | None = None  # None: the cyclic path, exactly as before groups existed
    if isinstance(d, (int, np.integer)) and not isinstance(d, bool):
        d = check_int("d", d, low=2)
    else:
        try:
            group = check_group(d, odd=True)
        except ValueError as e:
            raise ValueError(f"d = {d!r} is not a group of odd orders (an int d >= 2, or orders (d1, …, dk) each "
                             f"odd and >= 3): {e}") from None
        d = math.prod(group)
    width = check_int("width", width, low=1)
    seeds = [check_int("seed", s, low=0, high=2**32 - 1) for s in seeds]
    if not seeds:
        raise ValueError("seeds must list at least one seed, got []")
    weight_decay = check_real("weight_decay", weight_decay, low=0.0)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    epochs = check_int("steps", steps, low=1)  # full batch: one step per epoch
    record_every = check_int("record_every", record_every, low=1)
    extra = {check_int("record_at entry", e, low=0) for e in record_at}
    snaps = {check_int("snapshot_at entry", e, low=0, high=epochs) for e in snapshot_at}
    extra |= snaps
    if prune_below == "auto":
        prune_below = 1e-3 * weight_decay if weight_decay > 0 else None
    elif prune_below is not None:
        prune_below = check_real("prune_below", prune_below, low=0.0, low_open=True)
    check_choice("dtype", dtype, [torch.float32, torch.float64])
    device = torch.device(device)
    S, q, N = len(seeds), width, d * d
    # h and σ (per seed on the CPU, for all S on a GPU) and the residual O dominate; refuse before allocating
    S_work = 1 if device.type == "cpu" else S
    d_pad = -(-d // _State.PAD) * _State.PAD
    check_memory(f"train(d={group or d}) with |G| = {d}, width {q} and {S} seeds (d must keep "
                 f"2·{S_work}·q·|G|² + S·|G|³ values within memory)", (S_work, q, N), (S_work, q, N), (S, d_pad, N),
                 dtype=dtype)
    if init is None:
        inits = [default_init(d, q, s, dtype=dtype) for s in seeds]
        init = tuple(torch.stack([w[i] for w in inits]) for i in range(3))  # type: ignore[assignment]
    elif check_weights(init, batched=True) != (d, q) or init[0].shape[0] != S:
        raise ValueError(f"init must have shapes (S={S}, q={q}, d={d}) / (S, d, q), got "
                         f"{tuple(init[0].shape)}, {tuple(init[2].shape)}")

    train_mask, test_mask = _masks(d, seeds, test_size, device, dtype)  # (S, 1, N)
    n_train = train_mask.sum(-1, keepdim=True)  # (S, 1, 1)
    mask_scale = train_mask * (4.0 / n_train)  # (S, 1, N)
    n_test = test_mask.sum(-1, keepdim=True).clamp_min(1)  # (S, 1, 1)
    if group is None:
        Y = grid_targets(d, dtype=dtype, device=device).reshape(1, d, N)  # (1, d, N), centred one-hot
    else:
        Y = _group_targets(group, dtype=dtype, device=device).reshape(1, d, N)
        reps = character_pairs(group)
    labels = Y.argmax(1)  # (1, N)
    st = _State(tuple(w.detach().to(device, dtype) for w in init))  # type: ignore[arg-type]
    negY = torch.zeros(1, st.dp, N, dtype=dtype, device=device)  # −P⊥e_y, zero rows where W_c is padded
    negY[:, :d] = -Y
    final = [w.detach().to(dtype).cpu().clone() for w in init]  # full-size result; pruned nodes keep last values

    rows: dict[str, list[Tensor]] = {k: [] for k in ("epoch", "train_loss", "test_loss", "train_acc", "test_acc",
                                                     "r_kkk", "r_total", "sq_norm", "active", "orders", "live")}

    def record(epoch: int, E: Tensor) -> None:
        per_pair = (E * E).sum(1, keepdim=True)  # (S, 1, N)
        correct = ((E + Y).argmax(1, keepdim=True) == labels[:, None]).to(dtype)  # (S, 1, N)
        rows["epoch"].append(torch.tensor(epoch))
        rows["train_loss"].append(((per_pair * train_mask).sum(-1) / n_train[..., 0]).squeeze(-1).cpu())
        rows["test_loss"].append(((per_pair * test_mask).sum(-1) / n_test[..., 0]).squeeze(-1).cpu())
        rows["train_acc"].append(((correct * train_mask).sum(-1) / n_train[..., 0]).squeeze(-1).cpu())
        rows["test_acc"].append(((correct * test_mask).sum(-1) / n_test[..., 0]).squeeze(-1).cpu())
        r_kkk, r_total, orders = (_snapshot(st.W_a, st.W_b, st.W_c, order_threshold) if group is None else
                                  _group_snapshot(st.W_a, st.W_b, st.W_c, order_threshold, group, reps))
        rows["r_kkk"].append(r_kkk)
        rows["r_total"].append(r_total)
        rows["orders"].append(orders)
        rows["sq_norm"].append((st.flat.double() ** 2).sum(1).cpu())
        mag = torch.maximum(torch.maximum(st.W_a.abs().amax(2), st.W_b.abs().amax(2)), st.W_c.abs().amax(1))
        rows["active"].append((mag > 0.01).sum(1).cpu())
        rows["live"].append(torch.tensor(st.q))
        start = float(rows["train_loss"][0].max())
        check_finite_loss(rows["train_loss"][-1].max(), step=epoch, lr=lr, start=start)  # NaN propagates via max

    kept: dict[int, list[Tensor]] = {}
    t0 = time.perf_counter()
    with torch.no_grad():
        for t in progress(range(epochs), desc=f"cogo train d={group or d} q={q} S={S}", total=epochs, quiet=quiet):
            if t % record_every == 0 or t in extra:
                record(t, st.forward(negY))
            if t in snaps:
                kept[t] = [w.clone() for w in final]  # pruned nodes hold their last values there
                st.scatter_into(kept[t])
            if prune_below is not None and t > 0 and t % PRUNE_EVERY == 0:
                st.prune(prune_below, final)
            st.gradients(negY, mask_scale)
            st.adam_step(t + 1, lr=lr, weight_decay=weight_decay)
        record(epochs, st.forward(negY))
    seconds = time.perf_counter() - t0
    st.scatter_into(final)
    if epochs in snaps:
        kept[epochs] = [w.clone() for w in final]

    stack = {k: torch.stack(v_) for k, v_ in rows.items()}
    return TrainResult(
        weights=(final[0], final[1], final[2]),
        seeds=list(seeds), epochs=stack["epoch"], train_loss=stack["train_loss"], test_loss=stack["test_loss"],
        train_acc=stack["train_acc"], test_acc=stack["test_acc"], r_kkk=stack["r_kkk"], r_total=stack["r_total"],
        sq_norm=stack["sq_norm"], active=stack["active"], orders=stack["orders"], live=stack["live"], seconds=seconds,
        config={"d": d, "group": group or (d,), "width": q, "weight_decay": weight_decay, "lr": lr, "epochs": epochs,
                "test_size": test_size, "dtype": str(dtype), "device": str(device), "prune_below": prune_below},
        snapshots={e: (w[0], w[1], w[2]) for e, w in sorted(kept.items())},
    )


def train_reference(d: int, width: int, *, seed: int, weight_decay: float, steps: int, lr: float = PAPER_LR,
                    test_size: float = PAPER_TEST_SIZE, init: Weights | None = None,
                    dtype: torch.dtype = torch.float32,
                    device: str | torch.device = "cpu") -> tuple[Weights, list[float]]:
    """The straightforward per-seed formulation: gather, square, matmul, autograd, ``torch.optim.Adam``.

    Returns:
        ``(final weights, training loss before each step)``.
    """
    d, width = check_int("d", d, low=2), check_int("width", width, low=1)
    epochs = check_int("steps", steps, low=1)
    check_choice("dtype", dtype, [torch.float32, torch.float64])
    net = QuadraticNet(d, width, seed=seed, weights=init, dtype=dtype).to(device)
    tr, _ = train_test_indices(d, seed, test_size=test_size)
    tr_t = torch.from_numpy(np.asarray(tr)).to(device)
    pairs = torch.stack([tr_t // d, tr_t % d], dim=1)  # (n, 2)
    targets = (pairs[:, 0] + pairs[:, 1]) % d  # (n,)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS, weight_decay=weight_decay)
    losses: list[float] = []
    for t in range(epochs):
        opt.zero_grad()
        loss = projected_l2_loss(net(pairs), targets)
        losses.append(check_finite_loss(loss.detach(), step=t, lr=lr, start=losses[0] if losses else None))
        loss.backward()
        opt.step()
    return (net.W_a.detach().clone(), net.W_b.detach().clone(), net.W_c.detach().clone()), losses
