"""CIFAR-10 from the user's own copy of the standard ``cifar-10-batches-py`` files (never downloaded).

No real CIFAR-10 ships with any installable package, so the user must obtain the official "CIFAR-10 python
version" archive (https://www.cs.toronto.edu/~kriz/cifar.html), unpack it, and pass the directory (or set
``NETOPTIMA_CIFAR10``). Each batch file is a pickle of a dict with ``b"data"``: uint8 array ``(N, 3072)``
whose row is the red plane (1024 values), then green, then blue, each plane a row-major 32x32 image; and
``b"labels"``: ``N`` integers in ``0..9``.

The files are unpickled with a restricted unpickler that only rebuilds NumPy arrays, lists, dicts and
scalars, so a tampered file cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from netoptima.conventions import check_choice
from netoptima.data._common import u8_to_float

__all__ = ["CIFAR10_CLASSES", "CIFAR10_ENV", "cifar10"]

CIFAR10_ENV = "NETOPTIMA_CIFAR10"
CIFAR10_CLASSES: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                    "ship", "truck")
TRAIN_FILES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES: tuple[str, ...] = ("test_batch",)
_SUBDIR = "cifar-10-batches-py"

# (module, name) pairs a CIFAR batch pickle may reference (Python 2 era files and NumPy 1.x / 2.x pickles).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch file")
        if module.startswith("numpy.core"):  # NumPy 2 moved numpy.core to numpy._core
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def _load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = _SafeUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not a CIFAR-10 python batch file: {exc}") from None
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise ValueError(f"{path} is not a CIFAR-10 python batch file: expected a dict with keys b'data' "
                         f"and b'labels'")
    x = np.asarray(d[b"data"])
    y = np.asarray(d[b"labels"], dtype=np.int64)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or y.shape != (x.shape[0],):
        raise ValueError(f"{path}: b'data' must be uint8 of shape (N, 3072) and b'labels' N integers; got "
                         f"data {x.dtype} {x.shape}, labels {y.shape}")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{path}: labels must be in 0..9, got values in [{y.min()}, {y.max()}]")
    return x, y


def _resolve_dir(path: str | os.PathLike[str] | None) -> Path:
    if path is None:
        env = os.environ.get(CIFAR10_ENV)
        if not env:
            raise FileNotFoundError(
                f"cifar10(path=None) and the environment variable {CIFAR10_ENV} is not set. CIFAR-10 is not "
                "bundled and is never downloaded: obtain the 'CIFAR-10 python version' archive yourself "
                "(https://www.cs.toronto.edu/~kriz/cifar.html), unpack it and pass the "
                f"'{_SUBDIR}' directory as path or set {CIFAR10_ENV} to it.")
        path = env
    root = Path(path).expanduser()
    if (root / _SUBDIR).is_dir():  # accept the parent of cifar-10-batches-py too
        root = root / _SUBDIR
    return root


def cifar10(path: str | os.PathLike[str] | None = None, *,
            split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Read CIFAR-10 from the standard ``cifar-10-batches-py`` pickle files in a directory you provide.

    Arguments:
        path: the ``cifar-10-batches-py`` directory (or its parent). ``None`` uses the environment
            variable ``NETOPTIMA_CIFAR10``.
        split: ``"train"`` (``data_batch_1`` .. ``data_batch_5``, concatenated in that order; 50,000 images
            in the official files) or ``"test"`` (``test_batch``; 10,000 images). If only some training
            batches are present they are all used and a ``UserWarning`` names the missing ones.

    Returns:
        ``(X, y)``: ``X`` float32 of shape ``(N, 3, 32, 32)`` (channels R, G, B; then rows, columns) with
        values ``pixel/255`` in ``[0, 1]``; ``y`` int64 of shape ``(N,)`` with labels in ``0..9``
        (names in :data:`CIFAR10_CLASSES`).

    Raises:
        ValueError: bad ``split``; a batch file is not in the CIFAR-10 format.
        FileNotFoundError: no path given and ``NETOPTIMA_CIFAR10`` unset, the directory does not exist, or
            it holds none of the split's batch files. The message says which files were expected.
    """
    check_choice("split", split, ("train", "test"))
    root = _resolve_dir(path)
    expected = TRAIN_FILES if split == "train" else TEST_FILES
    how = (f"CIFAR-10 is not bundled and is never downloaded: obtain the 'CIFAR-10 python version' archive "
           f"yourself (https://www.cs.toronto.edu/~kriz/cifar.html) and unpack it so that {root} holds "
           f"{', '.join(expected)}.")
    if not root.is_dir():
        raise FileNotFoundError(f"CIFAR-10 directory {root} does not exist. {how}")
    present = [name for name in expected if (root / name).is_file()]
    if not present:
        raise FileNotFoundError(f"no CIFAR-10 {split} batch files in {root}: expected "
                                f"{', '.join(expected)}. {how}")
    missing = [name for name in expected if name not in present]
    if missing:
        warnings.warn(f"CIFAR-10 {split} split in {root} is incomplete: missing {', '.join(missing)}; "
                      f"using {', '.join(present)}", UserWarning, stacklevel=2)
    xs, ys = zip(*(_load_batch(root / name) for name in present), strict=True)
    x = np.concatenate(xs).reshape(-1, 3, 32, 32)
    return u8_to_float(x), torch.from_numpy(np.concatenate(ys))
