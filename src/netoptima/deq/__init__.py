"""Deep equilibrium linear models with weight tying (Kawaguchi 2021): root-finding forward, implicit gradients,
linear convergence to the global optimum, and the trust-region Newton link (spec explicit_deq.md, part B)."""

from netoptima.deq.analysis import function_space_preconditioner, shallow_square_grad, trust_region_step
from netoptima.deq.model import NORMALIZE, DEQLinear, ImplicitEquilibrium, equilibrium, stochastic, unrolled_equilibrium
from netoptima.deq.solvers import BACKENDS, SOLVERS, NotConverged, SolverInfo, check_gamma, solve_equilibrium
from netoptima.deq.train import (
    LOSSES,
    LinearOptimum,
    Trajectory,
    lambda_min_gram,
    lambda_min_UtU,
    linear_optimum,
    loss_value,
    rate_check,
    train_deq,
    train_params,
)

__all__ = [
    "BACKENDS", "DEQLinear", "ImplicitEquilibrium", "LOSSES", "LinearOptimum", "NORMALIZE", "NotConverged", "SOLVERS",
    "SolverInfo", "Trajectory", "check_gamma", "equilibrium", "function_space_preconditioner", "lambda_min_UtU",
    "lambda_min_gram", "linear_optimum", "loss_value", "rate_check", "shallow_square_grad", "solve_equilibrium",
    "stochastic", "train_deq", "train_params", "trust_region_step", "unrolled_equilibrium",
]
