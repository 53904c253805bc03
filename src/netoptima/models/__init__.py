"""Small ``nn.Module`` building blocks shared by the parts (two-layer nets, MLPs, activations)."""

from netoptima.models.two_layer import Quadratic, TwoLayerReLUNTK, mlp

__all__ = ["Quadratic", "TwoLayerReLUNTK", "mlp"]
