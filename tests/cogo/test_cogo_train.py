"""The batched hand-written trainer against torch.optim.Adam + autograd on the straightforward formulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from netoptima.cogo import default_init, train
from netoptima.cogo.model import grid_targets, pair_loss, train_test_indices
from netoptima.cogo.train import train_reference
from netoptima.conventions import TrainingDiverged

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("wd", [0.0, 1e-3])
def test_batched_trainer_equals_reference_adam(wd):
    d, q, seeds, epochs = 7, 12, [3, 8], 60
    res = train(d, q, seeds=seeds, weight_decay=wd, steps=epochs, dtype=torch.float64, record_every=20, quiet=True)
    for i, s in enumerate(seeds):
        W, losses = train_reference(d, q, seed=s, weight_decay=wd, steps=epochs, dtype=torch.float64)
        # float64, same arithmetic up to summation order: 60 Adam steps keep the weights within ~1e-13
        for x, y in zip(res.seed_weights(i), W, strict=True):
            assert torch.allclose(x, y, atol=1e-11, rtol=0)
        for row, epoch in enumerate(res.epochs.tolist()[:-1]):
            assert float(res.train_loss[row, i]) == pytest.approx(losses[epoch], rel=1e-12)


def test_history_losses_are_the_split_losses_of_the_final_weights():
    d, q, seed = 11, 16, 2
    res = train(d, q, seeds=[seed], weight_decay=1e-4, steps=30, dtype=torch.float64, record_every=10, quiet=True)
    tr, te = train_test_indices(d, seed)
    W = res.seed_weights(0)
    for idx, got in ((tr, res.train_loss[-1, 0]), (te, res.test_loss[-1, 0])):
        mask = torch.zeros(d * d, dtype=torch.bool)
        mask[torch.from_numpy(idx)] = True
        assert float(got) == pytest.approx(float(pair_loss(W, mask.view(d, d))), rel=1e-12)
    assert res.epochs.tolist() == [0, 10, 20, 30]


def test_pruning_dead_nodes_does_not_change_the_trajectory():
    d, q, seeds = 11, 24, [1, 2]
    inits = [default_init(d, q, s, dtype=torch.float64) for s in seeds]
    init = [torch.stack([w[i] for w in inits]) for i in range(3)]
    for w in init[:2]:
        w[:, ::2] *= 1e-30  # every other node starts dead (all of its weights tiny)
    init[2][:, :, ::2] *= 1e-30
    kw = dict(seeds=seeds, weight_decay=1e-6, steps=200, init=tuple(init), dtype=torch.float64, record_every=50,
              quiet=True)
    full = train(d, q, prune_below=None, **kw)
    pruned = train(d, q, prune_below=1e-20, **kw)
    assert pruned.live.tolist()[-1] == q // 2 and full.live.tolist()[-1] == q
    # removed nodes contribute ~1e-90 to the outputs: the live nodes follow the same float64 path
    for x, y in zip(full.weights, pruned.weights, strict=True):
        assert torch.allclose(x, y, atol=1e-10, rtol=0)
    assert torch.allclose(full.train_loss, pruned.train_loss, rtol=1e-10)


def test_weight_decay_kills_unused_nodes_and_auto_pruning_follows():
    res = train(11, 64, seeds=[1], weight_decay=5e-4, steps=2500, record_every=250, quiet=True)
    assert float(res.train_loss[-1, 0]) < 1e-2 and float(res.test_acc[-1, 0]) == 1.0
    live, active = res.live.tolist()[-1], int(res.active[-1, 0])
    assert live < 64  # unused nodes decayed below 1e-3·wd and were dropped
    assert active <= live  # every node with a weight > 0.01 is still trained
    # the surviving nodes are the per-frequency blocks (each node lives at one frequency)
    assert active == int(res.orders[-1, 0].sum())


def test_divergence_and_bad_arguments_raise():
    with pytest.raises(TrainingDiverged, match="learning rate"):
        train(5, 8, seeds=[0], weight_decay=0.0, lr=1e6, steps=40, record_every=1, quiet=True)
    with pytest.raises(ValueError, match="seeds"):
        train(5, 8, seeds=[], weight_decay=0.0, steps=1)
    with pytest.raises(ValueError, match="weight_decay"):
        train(5, 8, seeds=[0], weight_decay=-1.0, steps=1)
    with pytest.raises(ValueError, match="steps"):
        train(5, 8, seeds=[0], weight_decay=0.0, steps=0)
    with pytest.raises(ValueError, match="init must have shapes"):
        train(5, 8, seeds=[0, 1], weight_decay=0.0, steps=1, init=tuple(w[None] for w in default_init(5, 8, 0)))


def test_a_finite_blow_up_is_divergence():
    # a finite loss 1e4 × above its start is divergence too (conventions.check_finite_loss with start=)
    with pytest.raises(TrainingDiverged, match="starting loss"):
        train(5, 8, seeds=[0], weight_decay=0.0, lr=30.0, steps=200, record_every=1, quiet=True)


def test_the_result_is_frozen():
    res = train(5, 8, seeds=[0], weight_decay=0.0, steps=2, quiet=True)
    with pytest.raises(AttributeError):
        res.seeds = [1]  # type: ignore[misc]


def test_snapshots_are_the_weights_of_the_shorter_run():
    # the epoch-9900 checkpoint of a run continued to 20k: weights after that many steps, pruned nodes included
    kw = dict(seeds=[1, 2], weight_decay=5e-4, dtype=torch.float64, record_every=100, quiet=True, prune_below=1e-4)
    long = train(11, 24, steps=320, snapshot_at=[0, 250, 320], **kw)
    short = train(11, 24, steps=250, **kw)
    assert sorted(long.snapshots) == [0, 250, 320]
    for x, y in zip(long.snapshots[250], short.weights, strict=True):
        assert torch.equal(x, y)
    for x, y in zip(long.snapshots[320], long.weights, strict=True):
        assert torch.equal(x, y)
    assert 250 in long.epochs.tolist()
    with pytest.raises(ValueError, match="snapshot_at"):
        train(5, 8, seeds=[0], weight_decay=0.0, steps=10, snapshot_at=[11])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_batched_trainer_on_cuda_matches_the_cpu():
    d, q, seeds = 11, 32, [1, 2, 3]
    kw = dict(seeds=seeds, weight_decay=1e-3, steps=200, dtype=torch.float64, record_every=50, quiet=True)
    cpu, gpu = train(d, q, device="cpu", **kw), train(d, q, device="cuda", **kw)
    assert gpu.config["device"].startswith("cuda") and gpu.weights[0].device.type == "cpu"
    for x, y in zip(cpu.weights, gpu.weights, strict=True):
        assert torch.allclose(x, y, atol=1e-8, rtol=0)  # float64: only the summation order differs
    assert torch.allclose(cpu.train_loss, gpu.train_loss, rtol=1e-8)


# ---------------------------------------------------------------------------------------------- finite Abelian groups
@pytest.mark.parametrize("d", [7, 9])
def test_the_group_trainer_on_one_factor_is_the_cyclic_trainer(d):
    kw = dict(seeds=[3, 8], weight_decay=1e-3, steps=60, dtype=torch.float64, record_every=20, quiet=True)
    cyc, grp = train(d, 12, **kw), train((d,), 12, **kw)
    # same data, split and init: the training arithmetic is identical, only the recorded Fourier view goes through
    # fftn instead of fft (round-off ~1e-16 on r_kkk)
    for x, y in zip(cyc.weights, grp.weights, strict=True):
        assert torch.equal(x, y)
    assert torch.equal(cyc.train_loss, grp.train_loss) and torch.equal(cyc.orders, grp.orders)
    torch.testing.assert_close(grp.r_kkk, cyc.r_kkk, atol=1e-12, rtol=0)
    assert grp.config["group"] == (d,)


def _reference_on_group(orders, q, seed, wd, steps):
    """Independent slow form: autograd + torch.optim.Adam on the train pairs of abelian_task(orders)."""
    from netoptima.cogo import QuadraticNet
    from netoptima.cogo.model import projected_l2_loss
    from netoptima.cogo.train import ADAM_BETAS, ADAM_EPS
    from netoptima.data import abelian_task

    n = math.prod(orders)
    pairs, targets = abelian_task(orders)
    tr = torch.from_numpy(train_test_indices(n, seed)[0])
    net = QuadraticNet(n, q, seed=seed, dtype=torch.float64)
    opt = torch.optim.Adam(net.parameters(), lr=0.01, betas=ADAM_BETAS, eps=ADAM_EPS, weight_decay=wd)
    for _ in range(steps):
        opt.zero_grad()
        projected_l2_loss(net(pairs[tr]), targets[tr]).backward()
        opt.step()
    return tuple(w.detach() for w in net.weights)


@pytest.mark.parametrize("orders", [(3, 3), (3, 5)])
def test_group_trainer_equals_autograd_on_abelian_task(orders):
    q, seeds, wd, steps = 10, [2, 5], 1e-3, 50
    res = train(orders, q, seeds=seeds, weight_decay=wd, steps=steps, dtype=torch.float64, record_every=25,
                quiet=True)
    n = math.prod(orders)
    assert res.weights[0].shape == (2, q, n) and res.orders.shape == (3, 2, (n - 1) // 2)
    for i, s in enumerate(seeds):
        # float64, same update up to summation order (as the cyclic oracle above): 50 Adam steps stay within ~1e-13
        for x, y in zip(res.seed_weights(i), _reference_on_group(orders, q, s, wd, steps), strict=True):
            assert torch.allclose(x, y, atol=1e-11, rtol=0)


def test_group_trainer_on_z3_x_z5_is_the_z15_trainer_up_to_the_crt_relabelling():
    """Z_3 × Z_5 ≅ Z_15 (x ↦ (x mod 3, x mod 5)): with the relabelled init and no held-out pairs, both follow the
    same trajectory up to that permutation of the element indices."""
    orders, n, q = (3, 5), 15, 8
    perm = torch.tensor([np.ravel_multi_index((x % 3, x % 5), orders) for x in range(n)])  # Z_15 index -> G index
    W = default_init(n, q, 4, dtype=torch.float64)  # on G's indices
    init_g = tuple(w[None] for w in W)
    init_c = (W[0][:, perm][None], W[1][:, perm][None], W[2][perm][None])
    kw = dict(seeds=[4], weight_decay=1e-3, steps=80, dtype=torch.float64, test_size=0.0, quiet=True)
    g, c = train(orders, q, init=init_g, **kw), train(n, q, init=init_c, **kw)
    torch.testing.assert_close(c.weights[0][0], g.weights[0][0][:, perm], atol=1e-11, rtol=0)
    torch.testing.assert_close(c.weights[2][0], g.weights[2][0][perm], atol=1e-11, rtol=0)
    torch.testing.assert_close(c.train_loss, g.train_loss, atol=0, rtol=1e-10)


@pytest.mark.parametrize("bad, match", [((3, 4), "order 2"), ((2, 3), "G\\[0\\]"), ((3, 1), "G\\[1\\]"),
                                        ((3.5, 3), "G\\[0\\]"), ((), "non-empty"), ((10**5 + 1, 10**5 + 1), "memory")])
def test_bad_groups_raise_before_training(bad, match):
    with pytest.raises(ValueError, match=match):
        train(bad, 8, seeds=[0], weight_decay=0.0, steps=1, quiet=True)


# ---------------------------------------------------------------------------------------------- the hand-written kernel
def _autograd_gradients(d, weights, seed):
    """∂ℓ/∂(W_a, W_b, W_c) of one net's training loss by autograd on the train pairs (float64)."""
    from netoptima.cogo.model import projected_l2_loss

    tr = torch.from_numpy(np.asarray(train_test_indices(d, seed)[0]))
    g1, g2 = tr // d, tr % d
    W = [w.detach().clone().requires_grad_(True) for w in weights]
    h = W[0][:, g1] + W[1][:, g2]  # (q, n)
    projected_l2_loss((W[2] @ h**2).T, (g1 + g2) % d).backward()
    return [w.grad for w in W]


def test_kernel_gradients_equal_autograd_in_float64():
    from netoptima.cogo.train import _masks, _State

    d, q, seeds = 7, 16, [3, 8]
    inits = [default_init(d, q, s, dtype=torch.float64) for s in seeds]
    st = _State(tuple(torch.stack([w[i] for w in inits]) for i in range(3)))
    assert st.dp == 8  # one zero-padded class row
    train_mask, _ = _masks(d, seeds, 0.1, torch.device("cpu"), torch.float64)
    negY = torch.zeros(1, st.dp, d * d, dtype=torch.float64)
    negY[:, :d] = -grid_targets(d, dtype=torch.float64).reshape(d, d * d)  # −P⊥e_{g1+g2} on every pair
    st.gradients(negY, train_mask * (4.0 / train_mask.sum(-1, keepdim=True)))
    got = st._views(st.grad)
    for i, s in enumerate(seeds):
        for x, y in zip((g[i] for g in got), _autograd_gradients(d, inits[i], s), strict=True):
            # the same sums in another order: float64 round-off only (~1e-16 relative per operation)
            torch.testing.assert_close(x, y, rtol=0, atol=1e-12 * float(y.abs().max()))
    assert torch.equal(st.gWc_pad[:, d:], torch.zeros_like(st.gWc_pad[:, d:]))  # the padding row gets no gradient


def test_padding_rows_stay_zero_and_seeds_do_not_interact():
    from netoptima.cogo.train import _State

    kw = dict(weight_decay=1e-3, steps=120, record_every=60, quiet=True)
    both = train(11, 24, seeds=[1, 2], **kw)
    for i, s in enumerate([1, 2]):
        alone = train(11, 24, seeds=[s], **kw)
        # the batch axis only stacks independent nets: each seed follows the same float32 path on its own
        for x, y in zip(both.seed_weights(i), alone.seed_weights(0), strict=True):
            assert torch.equal(x, y)
    st = _State(tuple(w.clone() for w in both.weights))
    for t in range(1, 4):
        st.grad.normal_()
        st.gWc_pad[:, 11:] = 0.0  # what gradients() leaves there (previous test)
        st.adam_step(t, lr=0.01, weight_decay=1e-3)
    pad = [buf.view(2, -1)[:, (2 * 11 + 11) * 24:] for buf in (st.flat, st.m, st.v)]
    assert all(torch.equal(p, torch.zeros_like(p)) for p in pad)  # Adam keeps a zero row with zero gradient zero


def test_float32_trainer_follows_the_float32_reference():
    d, q, seeds, wd, epochs = 11, 32, [1, 2], 1e-3, 300
    res = train(d, q, seeds=seeds, weight_decay=wd, steps=epochs, record_every=100, quiet=True)
    for i, s in enumerate(seeds):
        W, losses = train_reference(d, q, seed=s, weight_decay=wd, steps=epochs)
        # Both are float32 with sums in different orders. Adam divides each gradient by its own RMS, so a relative
        # gradient round-off of ~1e-6 moves each step by ~1e-6·lr; over 300 steps the two paths drift apart by
        # ~3e-6 (measured 2-3e-6, as far as either float32 run is from its float64 counterpart). 2e-5 is 7x that
        # and ~1e-4 of the weights' scale; an error in the kernel (a wrong factor or term) moves them by > 1e-2.
        for x, y in zip(res.seed_weights(i), W, strict=True):
            torch.testing.assert_close(x, y, rtol=0, atol=2e-5)
        for row, epoch in enumerate(res.epochs.tolist()[:-1]):
            assert float(res.train_loss[row, i]) == pytest.approx(losses[epoch], rel=1e-4)
