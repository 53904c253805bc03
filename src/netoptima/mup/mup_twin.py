"""The same net built with microsoft/mup (``MuReadout``, ``set_base_shapes``, ``MuSGD``): an independent reference.

mup implements SP and μP only (mup.md §4.4). Its μP puts no multiplier on the input and hidden layers and
``forward(x) = Linear(output_mult · x / width_mult)`` on the readout, and ``MuSGD`` scales the learning rates
(vector-like ×width_mult, hidden ÷fan_in/fan_out ratio). :func:`mup_twin` copies our effective weights into
that model, so both must compute the same outputs and take the same SGD steps in effective-weight space.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from netoptima.mup.models import ACTIVATIONS, MLP

__all__ = ["MupMLP", "mup_effective_weights", "mup_twin"]


class MupMLP(nn.Module):
    """mup's ``examples/MLP`` shape, bias-free: ``Linear(d, n) → φ → (Linear(n, n) → φ)* → MuReadout(n, k)``."""

    def __init__(self, in_features: int, width: int, out_features: int, *, depth: int, activation: str = "relu",
                 dtype: torch.dtype | None = None) -> None:
        from mup import MuReadout

        super().__init__()
        sizes = [in_features] + [width] * (depth - 1)
        self.hidden = nn.ModuleList(nn.Linear(a, b, bias=False, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:],
                                                                                             strict=True))
        self.readout = MuReadout(width, out_features, bias=False, dtype=dtype)
        self._phi = ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.hidden:
            x = self._phi(layer(x))  # (N, n)
        return self.readout(x)  # (N, k)


def mup_twin(model: MLP) -> MupMLP:
    """A mup-built :class:`MupMLP` with the same effective weights as ``model`` (``"sp"`` or ``"mup"`` only).

    μP: ``set_base_shapes(twin, base=width n0, delta=width 2·n0)`` with n0 = ``model.base_width``; SP:
    ``set_base_shapes(twin, None)``. The readout's stored weight is W·width_mult because ``MuReadout``
    divides its input by width_mult. Train it with ``mup.MuSGD(twin.parameters(), lr=η)``.

    Raises:
        ValueError: ``model`` is not an :class:`MLP` in ``"sp"`` or ``"mup"`` (mup has no NTP / mean-field).
    """
    from mup import set_base_shapes

    if not isinstance(model, MLP):
        raise ValueError(f"model must be a netoptima.mup.MLP, got {type(model).__name__}")
    if model.parametrization not in ("sp", "mup"):
        raise ValueError(f"mup implements only 'sp' and 'mup'; got parametrization {model.parametrization!r}")
    dtype = model.layers[0].weight.dtype

    def build(width: int) -> MupMLP:
        return MupMLP(model.in_features, width, model.out_features, depth=model.depth,
                      activation=model.activation, dtype=dtype)

    twin = build(model.width)
    if model.parametrization == "mup":
        set_base_shapes(twin, build(model.base_width), delta=build(2 * model.base_width), rescale_params=False)
    else:
        set_base_shapes(twin, None, rescale_params=False)
    W = model.effective_weights()
    with torch.no_grad():
        for layer, w in zip(twin.hidden, W[:-1], strict=True):
            layer.weight.copy_(w)
        twin.readout.weight.copy_(W[-1] * twin.readout.width_mult() / twin.readout.output_mult)
    return twin


def mup_effective_weights(twin: MupMLP) -> list[Tensor]:
    """The effective weights of a :func:`mup_twin` (readout: output_mult · w / width_mult), detached copies."""
    r: Any = twin.readout
    return ([layer.weight.detach().clone() for layer in twin.hidden]
            + [(r.weight * r.output_mult / r.width_mult()).detach().clone()])
