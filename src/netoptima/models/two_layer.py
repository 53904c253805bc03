"""Small networks shared by the parts: the Du et al. two-layer ReLU net, a quadratic activation, MLPs.

Everything here is an ``nn.Sequential`` of ``nn.Linear`` and elementwise activations, so the fast
per-layer NTK Gram of ``netoptima.ntk.ntk_gram`` applies to it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from netoptima.conventions import check_choice, check_int, check_memory

__all__ = ["Quadratic", "TwoLayerReLUNTK", "mlp"]

_DTYPES = [None, torch.float32, torch.float64]


class Quadratic(nn.Module):
    """Elementwise quadratic activation σ(x) = x² (the activation of the convex-SDP nets)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * x


class TwoLayerReLUNTK(nn.Sequential):
    """Du et al. (2019) two-layer ReLU net f(x) = (1/√m) Σ_r a_r relu(w_rᵀx) (dynamics.md §1.1).

    Built as ``Linear(d, m, bias=False) → ReLU → Linear(m, 1, bias=False)`` with submodules named
    ``hidden``, ``relu`` and ``output``:

    - ``hidden.weight`` (m, d) holds the rows w_r ~ N(0, I) and is trained;
    - ``output.weight`` (1, m) holds a_r/√m with a_r ~ Unif{±1} and is frozen (``requires_grad=False``),
      so the NTK Gram over the trainable parameters is the H(t) of Du et al.

    The forward pass maps ``(n, d)`` inputs to ``(n, 1)`` outputs (an ``nn.Sequential`` keeps the last
    Linear's feature axis); use ``.squeeze(-1)`` for the ``u`` vector of the paper.

    Arguments:
        d: input dimension (≥ 1).
        width: number of hidden neurons m (≥ 1).
        generator: ``torch.Generator`` the weights are drawn from (the global RNG when ``None``); the
            same seed gives the same network.
        dtype: ``torch.float32`` or ``torch.float64`` (torch's default dtype when ``None``).
    """

    def __init__(self, d: int, width: int, *, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None) -> None:
        d = check_int("d", d, low=1)
        width = check_int("width", width, low=1)
        dtype = check_choice("dtype", dtype, _DTYPES) or torch.get_default_dtype()
        check_memory(f"TwoLayerReLUNTK(d={d}, width={width})", (width, d), dtype=dtype)
        hidden = nn.Linear(d, width, bias=False, dtype=dtype)
        output = nn.Linear(width, 1, bias=False, dtype=dtype)
        with torch.no_grad():
            hidden.weight.copy_(torch.randn(width, d, generator=generator, dtype=dtype))  # (m, d)
            signs = torch.randint(0, 2, (1, width), generator=generator).to(dtype) * 2 - 1  # (1, m)
            output.weight.copy_(signs / math.sqrt(width))  # (1, m)
        output.weight.requires_grad_(False)
        super().__init__(OrderedDict(hidden=hidden, relu=nn.ReLU(), output=output))
        self.d, self.width = d, width

    @property
    def signs(self) -> Tensor:
        """The fixed output signs a_r ∈ {±1}, shape (m,)."""
        return (self.output.weight[0] * math.sqrt(self.width)).round()  # (m,)


def mlp(sizes: Sequence[int], *, activation: Callable[[], nn.Module] = nn.ReLU, bias: bool = True,
        dtype: torch.dtype | None = None) -> nn.Sequential:
    """Build ``Linear(sizes[0], sizes[1]) → act → … → Linear(sizes[-2], sizes[-1])`` (no final activation).

    Arguments:
        sizes: layer widths ``[d_in, h_1, …, d_out]``, at least two positive integers.
        activation: zero-argument factory of the activation module (a class such as ``nn.Tanh`` or
            ``Quadratic``), called once per hidden layer.
        bias: whether every Linear has a bias.
        dtype: parameter dtype (torch's default when ``None``); weights use PyTorch's default init.

    Returns:
        The ``nn.Sequential``.
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
        raise ValueError(f"sizes must be a sequence of at least two positive integers, got {sizes!r}")
    sizes = [check_int(f"sizes[{i}]", s, low=1) for i, s in enumerate(sizes)]
    if not callable(activation):
        raise ValueError(f"activation must be a callable returning an nn.Module (e.g. nn.ReLU), "
                         f"got {activation!r}")
    if not isinstance(bias, bool):
        raise ValueError(f"bias must be True or False, got {bias!r}")
    dtype = check_choice("dtype", dtype, _DTYPES)
    check_memory(f"mlp({sizes})", *((a, b + 1) for a, b in zip(sizes[1:], sizes[:-1], strict=True)), dtype=dtype)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out, bias=bias, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)
