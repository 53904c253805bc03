"""CoGO: algebraic global optimisers of modular addition (Tian 2024, arXiv 2410.01779; spec ``cogo.md``).

A two-layer net with σ(x) = x² on one-hot pairs (:class:`QuadraticNet`) is read in the Fourier basis of Z_d
(:func:`fourier_weights`), where the loss splits into per-frequency terms of monomial potentials
(:func:`loss_decomposition`). Hidden-node sets form a semi-ring (:class:`Solution`: + concatenates, *
multiplies node pairs), and global optimisers are built from small ring elements (:func:`z_syn`,
:func:`z_nu`, :func:`z_xi`, :func:`global_optimizer`). :func:`train` reproduces the paper's training protocol
for many seeds at once; :func:`solution_orders` and :func:`factorize` read the trained nets.

Any finite Abelian group G = Z_d1 × … × Z_dk of odd orders (data: :func:`netoptima.data.abelian_task`):
``global_optimizer((d1, …, dk))`` lifts the constructions to G's characters, :func:`group_fourier_weights` and
:func:`group_loss_decomposition` give the Fourier view over G, ``train((d1, …, dk), …)`` trains on G's pairs and
``solution_orders(…, G=…)`` / ``factorize(…, G=…)`` read a net in G's character basis (one block per pair {χ, conj χ});
the rest is in :mod:`netoptima.cogo.groups`.
"""

from netoptima.cogo.analysis import factorization_summary, factorize, solution_orders
from netoptima.cogo.constructions import (
    balanced_norm,
    global_optimizer,
    perfect_memorization,
    z_nu,
    z_syn,
    z_syn_ab,
    z_xi,
)
from netoptima.cogo.dynamics import decoupling_ratio
from netoptima.cogo.fourier import fourier_weights, loss_decomposition, monomial_potentials
from netoptima.cogo.groups import group_fourier_weights, group_loss_decomposition
from netoptima.cogo.model import QuadraticNet, default_init
from netoptima.cogo.semiring import Solution
from netoptima.cogo.train import TrainResult, train

__all__ = [
    "QuadraticNet", "Solution", "TrainResult", "balanced_norm", "decoupling_ratio", "default_init",
    "factorization_summary", "factorize", "fourier_weights", "global_optimizer", "group_fourier_weights",
    "group_loss_decomposition", "loss_decomposition",
    "monomial_potentials", "perfect_memorization", "solution_orders", "train", "z_nu", "z_syn", "z_syn_ab", "z_xi",
]
