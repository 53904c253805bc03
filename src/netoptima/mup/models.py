"""abc-parametrized MLPs (SP, NTP, μP, mean-field) with explicit multipliers and per-layer learning rates.

Tensor Programs IV (Yang & Hu 2021, §3) writes every layer's effective weight as W^l = n^{-a_l} w^l with
trainable w^l ~ N(0, n^{-2 b_l}) and the SGD step on w^l as η n^{-c}. We measure width relative to a base
width n0 (as microsoft/mup does): the multiplier is (n/n0)^{-a_l}, the init variance σ²/fan_in0 ·
(n/n0)^{-2 b_l} and the learning rate η (n/n0)^{-c}, where fan_in0 is the fan-in at the base width. So at
n = n0 all four parametrizations are the same PyTorch-style net (Gaussian σ²/fan_in init, one η), and the
width exponents are exactly the table's (mup.md §4.1):

==========  ==================  ==================  ====
name        a (in/hid/out)      b (in/hid/out)      c
==========  ==================  ==================  ====
``sp``      0 / 0 / 0           0 / ½ / ½           0
``ntp``     0 / ½ / ½           0 / 0 / 0           0
``mup``     −½ / 0 / ½          ½ / ½ / ½           0
``mf``      0 / 1 / 1           0 / 0 / 0           −1
==========  ==================  ==================  ====

:func:`param_groups` turns ``lr`` into one ``torch.optim.SGD`` group per layer, so plain SGD on ``w`` is the
abc-parametrized SGD. :func:`abc_exponents` gives the width exponents these tables imply for the activation
scale at initialisation and for the first SGD step (the test oracle for the models).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from netoptima.conventions import check_choice, check_int, check_memory, check_positive, check_real

__all__ = ["ABC", "ACTIVATIONS", "MLP", "PARAMETRIZATIONS", "ScaledLinear", "abc", "abc_exponents",
           "layer_abc", "param_groups"]

PARAMETRIZATIONS: tuple[str, ...] = ("sp", "ntp", "mup", "mf")
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "tanh": torch.tanh, "gelu": F.gelu}
_DTYPES = [None, torch.float32, torch.float64]


@dataclass(frozen=True)
class ABC:
    """One abc-parametrization (TP IV Def. 3.1): exponents for the input, hidden and output layers.

    Arguments:
        a: multiplier exponents (input, hidden, output): W^l = n^{-a_l} w^l.
        b: init exponents (input, hidden, output): w^l ~ N(0, n^{-2 b_l}).
        c: learning-rate exponent shared by all layers: the SGD step on w is η n^{-c}.
    """

    a: tuple[float, float, float]
    b: tuple[float, float, float]
    c: float


# mup.md §4.1, "Standard abc-values for SGD (Tensor Programs IV)".
_TABLE: dict[str, ABC] = {
    "sp": ABC(a=(0.0, 0.0, 0.0), b=(0.0, 0.5, 0.5), c=0.0),
    "ntp": ABC(a=(0.0, 0.5, 0.5), b=(0.0, 0.0, 0.0), c=0.0),
    "mup": ABC(a=(-0.5, 0.0, 0.5), b=(0.5, 0.5, 0.5), c=0.0),
    "mf": ABC(a=(0.0, 1.0, 1.0), b=(0.0, 0.0, 0.0), c=-1.0),
}


# Deepest net the abc tables are built for (a deeper one would take minutes just to list its layers).
MAX_DEPTH = 100_000


def check_parametrization(parametrization: str) -> str:
    """Validate a parametrization name (one of :data:`PARAMETRIZATIONS`)."""
    return check_choice("parametrization", parametrization, PARAMETRIZATIONS)


def abc(parametrization: str) -> ABC:
    """The abc-values of ``parametrization`` (TP IV Table / mup.md §4.1)."""
    return _TABLE[check_parametrization(parametrization)]


def layer_abc(parametrization: str, depth: int) -> tuple[list[tuple[float, float]], float]:
    """Per-layer ``(a_l, b_l)`` for a net of ``depth`` linear layers, and the shared ``c``.

    Layer 1 is the input layer, layers 2..depth-1 are hidden (n×n), layer ``depth`` is the readout.
    """
    p = abc(parametrization)
    depth = check_int("depth", depth, low=2, high=MAX_DEPTH)
    kinds = [0] + [1] * (depth - 2) + [2]
    return [(p.a[k], p.b[k]) for k in kinds], p.c


def abc_exponents(parametrization: str, depth: int) -> dict[str, list[float]]:
    """Width exponents of the layer outputs at init and of their change after one SGD step (derived).

    For a bias-free MLP with a positively homogeneous activation (ReLU), fixed input/output sizes and an
    O(1) loss derivative, with h^l the output of linear layer l (h^depth = f):

    * init: e_1 = −(a_1+b_1), e_l = e_{l−1} + ½ − (a_l+b_l) (a sum of n independent terms, CLT);
    * backward: g_{L} = −(a_{L+1}+b_{L+1}), g_{l−1} = g_l + ½ − (a_l+b_l) for dL/dh^l (g_{L+1} = 0);
    * first step: Δh^l = ΔW^l x^{l−1} + W^l Δx^{l−1}, with ΔW^l = −η n^{−c−2a_l} dh^l x^{l−1}ᵀ, so
      u_1 = −c − 2a_1 + g_1 and u_l = max(−c − 2a_l + g_l + 1 + 2e_{l−1}, ½ − (a_l+b_l) + u_{l−1}); the
      readout's second term is a coherent sum over n (Δx^L is aligned with W^{L+1}ᵀ), so it gets
      1 − (a+b) instead of ½ − (a+b).

    Arguments:
        parametrization: one of :data:`PARAMETRIZATIONS`.
        depth: number of linear layers (≥ 2).

    Returns:
        ``{"init": [e_1, …, e_depth], "update": [u_1, …, u_depth]}``: mean |h^l| ∝ n^{e_l} at init and
        mean |Δh^l| ∝ n^{u_l} after the first SGD step (first order in η, same batch).
    """
    layers, c = layer_abc(parametrization, depth)
    s = [a + b for a, b in layers]  # init scale exponent of each effective weight: entries ~ n^{-(a+b)}
    e = [-s[0]]
    for l in range(1, depth):
        e.append(e[-1] + 0.5 - s[l])
    g = [0.0] * depth  # g[l] for dL/dh^{l+1} (0-based); the output's is O(1)
    g[depth - 1] = 0.0
    g[depth - 2] = -s[depth - 1]
    for l in range(depth - 2, 0, -1):
        g[l - 1] = g[l] + 0.5 - s[l]
    u = [-c - 2 * layers[0][0] + g[0]]
    for l in range(1, depth):
        direct = -c - 2 * layers[l][0] + g[l] + 1 + 2 * e[l - 1]
        coherent = 1.0 if l == depth - 1 else 0.5
        u.append(max(direct, coherent - s[l] + u[l - 1]))
    return {"init": e, "update": u}


class ScaledLinear(nn.Module):
    """Bias-free linear layer with a fixed multiplier: h = m · w x (the W^l = n^{-a_l} w^l of TP IV).

    Arguments:
        in_features, out_features: sizes.
        multiplier: the constant m = (n/n0)^{-a_l}.
        std: init standard deviation of the trainable ``weight`` w (Gaussian).
    """

    def __init__(self, in_features: int, out_features: int, *, multiplier: float, std: float,
                 generator: torch.Generator | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        in_features = check_int("in_features", in_features, low=1)
        out_features = check_int("out_features", out_features, low=1)
        multiplier = check_real("multiplier", multiplier)
        std = check_real("std", std, low=0.0)
        dtype = check_choice("dtype", dtype, _DTYPES) or torch.get_default_dtype()
        check_memory(f"ScaledLinear({in_features}, {out_features})", (out_features, in_features), dtype=dtype)
        self.in_features, self.out_features, self.multiplier = in_features, out_features, float(multiplier)
        w = torch.randn(out_features, in_features, generator=generator, dtype=dtype) * std  # (out, in)
        self.weight = nn.Parameter(w)

    def forward(self, x: Tensor) -> Tensor:
        return self.multiplier * F.linear(x, self.weight)  # (..., out)

    def effective_weight(self) -> Tensor:
        """W = m · w, shape (out, in)."""
        return self.multiplier * self.weight

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, multiplier={self.multiplier:g}"


class MLP(nn.Module):
    """Bias-free MLP ``in → width → … → width → out`` in one of the four abc-parametrizations (mup.md §4.1).

    ``depth`` counts linear layers: ``depth=3`` is the paper's "3-layer MLP" 3072→n→n→10 (two hidden
    layers). Layer l computes h^l = (n/n0)^{-a_l} w^l x^{l−1}, x^l = φ(h^l); the last layer's h is f(x).

    Arguments:
        in_features: input dimension d (≥ 1).
        width: hidden width n (≥ 1).
        out_features: output dimension (≥ 1).
        depth: number of linear layers (≥ 2).
        parametrization: ``"sp"``, ``"ntp"``, ``"mup"`` or ``"mf"`` (mean-field / integrable).
        activation: ``"relu"``, ``"tanh"`` or ``"gelu"``.
        base_width: n0, the width at which all parametrizations coincide (as mup's base shapes).
        init_std: σ; the weights start as w^l ~ N(0, σ²/fan_in0 · (n/n0)^{-2b_l}).
        generator: ``torch.Generator`` for the init (global RNG when ``None``).
        dtype: ``torch.float32`` / ``torch.float64`` (torch's default when ``None``).
    """

    def __init__(self, in_features: int, width: int, out_features: int, *, depth: int,
                 parametrization: str = "mup", activation: str = "relu", base_width: int = 64,
                 init_std: float = 1.0, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, low=1)
        self.width = check_int("width", width, low=1)
        self.out_features = check_int("out_features", out_features, low=1)
        self.depth = check_int("depth", depth, low=2)
        self.parametrization = check_parametrization(parametrization)
        self.activation = check_choice("activation", activation, list(ACTIVATIONS))
        self.base_width = check_int("base_width", base_width, low=1)
        init_std = check_positive("init_std", init_std)
        dtype = check_choice("dtype", dtype, _DTYPES) or torch.get_default_dtype()
        layers, c = layer_abc(parametrization, depth)
        check_memory(f"MLP(width={self.width}, depth={depth})", (self.width, self.in_features),
                     *[(self.width, self.width)] * (depth - 2), (self.out_features, self.width), dtype=dtype)
        ratio = self.width / self.base_width  # n / n0
        self.lr_scale = ratio ** (-c)  # SGD step on every w is η (n/n0)^{-c}
        sizes = [self.in_features] + [self.width] * (depth - 1) + [self.out_features]
        base_fan_in = [self.in_features] + [self.base_width] * (depth - 1)
        self.layers = nn.ModuleList(
            ScaledLinear(sizes[l], sizes[l + 1], multiplier=ratio ** (-a),
                         std=init_std / math.sqrt(base_fan_in[l]) * ratio ** (-b), generator=generator, dtype=dtype)
            for l, (a, b) in enumerate(layers))
        self._phi = ACTIVATIONS[self.activation]

    def preactivations(self, x: Tensor) -> list[Tensor]:
        """Outputs of every linear layer ``[h^1, …, h^L, f]`` for inputs ``x`` of shape (N, d)."""
        hs = []
        for l, layer in enumerate(self.layers):
            x = layer(x if l == 0 else self._phi(x))  # (N, width) or (N, out)
            hs.append(x)
        return hs

    def features(self, x: Tensor) -> list[Tensor]:
        """Hidden features x^l = φ(h^l), l = 1..L, each (N, width): what the next layer (and the readout) read."""
        return [self._phi(h) for h in self.preactivations(x)[:-1]]

    def forward(self, x: Tensor) -> Tensor:
        return self.preactivations(x)[-1]  # (N, out)

    def effective_weights(self) -> list[Tensor]:
        """W^l = (n/n0)^{-a_l} w^l for every layer (detached copies)."""
        return [layer.effective_weight().detach().clone() for layer in self.layers]

    def extra_repr(self) -> str:
        return (f"parametrization={self.parametrization!r}, width={self.width}, base_width={self.base_width}, "
                f"depth={self.depth}, activation={self.activation!r}, lr_scale={self.lr_scale:g}")


def param_groups(model: MLP, lr: float) -> list[dict]:
    """One SGD parameter group per layer with the abc learning rate η (n/n0)^{-c} (TP IV §3; TP V Table 3).

    Arguments:
        model: an :class:`MLP`.
        lr: the base learning rate η (> 0), the one you would tune at the base width.

    Returns:
        ``[{"params": [w^l], "lr": η (n/n0)^{-c}, "name": "layers.<l>"}, …]`` for ``torch.optim.SGD``.
        Because the multipliers live in the forward pass, the effective step on W^l is
        η (n/n0)^{-c-2a_l} ∇_W — e.g. under μP: η·n/n0 (input), η (hidden), η·n0/n (readout).
    """
    if not isinstance(model, MLP):
        raise ValueError(f"model must be a netoptima.mup.MLP, got {type(model).__name__}")
    lr = check_real("lr", lr, low=0.0, low_open=True)
    return [{"params": [layer.weight], "lr": lr * model.lr_scale, "name": f"layers.{l}"}
            for l, layer in enumerate(model.layers)]
