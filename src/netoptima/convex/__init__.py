"""Exact convex training of quadratic-activation networks (Bartan & Pilanci, "Neural Spectrahedra and
Semidefinite Lifts"): the SDP lift, neural decomposition, a certificate of global optimality that needs no
SDP (one trust-region subproblem), and a global solver built on it (spec convex.md §3.1–3.6)."""

from netoptima.convex.backprop import BackpropResult, fit_backprop
from netoptima.convex.certificate import Certificate, certificate
from netoptima.convex.cli import load_net, save_net
from netoptima.convex.data import planted_demo
from netoptima.convex.decomposition import neural_decomposition
from netoptima.convex.model import PAPER_ACTIVATION, RELU_FIT_ACTIVATION, QuadraticActivationNet, objective
from netoptima.convex.sdp import LiftedProblemTooLarge, SDPResult, SolverFailed, fit_sdp
from netoptima.convex.solver import GlobalResult, fit_global, fit_one_vs_all, predict_one_vs_all

__all__ = [
    "PAPER_ACTIVATION", "RELU_FIT_ACTIVATION", "BackpropResult", "Certificate", "GlobalResult",
    "LiftedProblemTooLarge", "QuadraticActivationNet", "SDPResult", "SolverFailed", "certificate", "fit_backprop",
    "fit_global", "fit_one_vs_all", "fit_sdp", "load_net", "neural_decomposition", "objective", "planted_demo",
    "predict_one_vs_all", "save_net",
]
