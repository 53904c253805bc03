"""NTK Gram matrices: the empirical J Jᵀ (fast per-layer path for MLPs) and the analytic arccos kernel."""

from netoptima.ntk.analytic import relu_ntk_infinite, unit_normalize
from netoptima.ntk.gram import ELEMENTWISE_ACTIVATIONS, METHODS, ntk_gram, supports_layerwise

__all__ = ["ELEMENTWISE_ACTIVATIONS", "METHODS", "ntk_gram", "relu_ntk_infinite", "supports_layerwise",
           "unit_normalize"]
