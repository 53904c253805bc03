"""CoGO: algebraic global optimisers of modular addition (Tian 2024, arXiv 2410.01779; spec ``cogo.md``).

A two-layer net with σ(x) = x² on one-hot pairs (:class:`QuadraticNet`) is read in the Fourier basis of Z_d
(:func:`fourier_weights`), where the loss splits into per-frequency terms of monomial potentials
(:func:`loss_decomposition`). Hidden-node sets form a semi-ring (:class:`Solution`: + concatenates, *
multiplies node pairs), and global optimisers are built from small ring elements (:func:`z_syn`,
:func:`z_nu`, :func:`z_xi`, :func:`global_optimizer`). :func:`train` reproduces the paper's training protocol
for many seeds at once; :func:`solution_orders` and :func:`factorize` read the trained nets.
"""

from netoptima.cogo.analysis import (
    CONSTRUCTIONS,
    check_component,
    factorization_summary,
    factorize,
    factorize_block,
    solution_orders,
)
from netoptima.cogo.constructions import (
    OMEGA3,
    balanced_norm,
    balanced_norm_comparison,
    block_loss,
    dc_compensation,
    global_optimizer,
    min_block_loss,
    mixed_compensation,
    order4,
    order6,
    order6_ab,
    perfect_memorization,
    rebalance,
    rn_null_vector,
    z_nu,
    z_syn,
    z_syn_ab,
    z_xi,
)
from netoptima.cogo.dynamics import decoupling_ratio, potential_gram, potential_indices
from netoptima.cogo.fourier import (
    Potentials,
    fourier_loss,
    fourier_weights,
    loss_decomposition,
    monomial_potentials,
    weights_from_fourier,
)
from netoptima.cogo.model import (
    QuadraticNet,
    default_init,
    grid_outputs,
    pair_loss,
    projected_l2_loss,
    train_test_indices,
)
from netoptima.cogo.semiring import Solution
from netoptima.cogo.train import TrainResult, train, train_reference

__all__ = [
    "CONSTRUCTIONS", "OMEGA3", "Potentials", "QuadraticNet", "Solution", "TrainResult", "balanced_norm",
    "balanced_norm_comparison", "block_loss", "check_component", "dc_compensation", "decoupling_ratio",
    "default_init", "factorization_summary", "factorize", "factorize_block", "fourier_loss", "fourier_weights",
    "global_optimizer", "grid_outputs", "loss_decomposition", "min_block_loss", "mixed_compensation",
    "monomial_potentials", "order4", "order6", "order6_ab", "pair_loss", "perfect_memorization",
    "potential_gram", "potential_indices", "projected_l2_loss", "rebalance", "rn_null_vector", "solution_orders",
    "train", "train_reference", "train_test_indices", "weights_from_fourier", "z_nu", "z_syn", "z_syn_ab", "z_xi",
]
