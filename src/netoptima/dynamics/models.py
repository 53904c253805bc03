"""The two networks of Bu, Xu, Chen (2021): the theory's NTK-parametrised net and the notebook's ``TwoLayerMLP``.

* :class:`~netoptima.models.TwoLayerReLUNTK` (re-exported) is the model of the theorems (dynamics.md §1.1):
  f(x) = (1/√m) Σ_r a_r relu(w_rᵀx), a_r = ±1 frozen, w_r ~ N(0, I), unit-norm inputs.
* :class:`TwoLayerMLP` is the official notebook's model exactly as written (dynamics.md §1.4):
  ``Linear(d, m)`` with bias → ReLU → ``Linear(m, 1, bias=False)``; the first weight is re-drawn from
  N(0, std = 1/m), the output weight from U(−1, 1), the bias keeps PyTorch's default U(±1/√d); both layers
  are trained and there is no 1/√m multiplier.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import Tensor, nn

from netoptima.conventions import check_choice, check_int, check_memory
from netoptima.dynamics._checks import check_unit_rows
from netoptima.models import TwoLayerReLUNTK

__all__ = ["NOTEBOOK_SEED", "TwoLayerMLP", "TwoLayerReLUNTK", "theory_output"]

NOTEBOOK_SEED = 218  # ``TwoLayerMLP(..., torch_seed=218)`` in the notebook


class TwoLayerMLP(nn.Sequential):
    """The notebook's ``TwoLayerMLP`` (github.com/ShiyunXu/NTK_Optimizer; dynamics.md §1.4).

    The random draws happen in the notebook's order (``nn.Linear`` default inits of both layers, then
    the N(0, 1/m) and U(−1, 1) re-draws), so ``generator=torch.Generator().manual_seed(218)`` gives the
    same weights as the notebook's ``torch.manual_seed(218)``.

    Arguments:
        d: input dimension (784 for MNIST).
        width: hidden width m.
        generator: source of the random draws (torch's global RNG when ``None``, as in the notebook).
        dtype: ``torch.float32`` (the notebook's) or ``torch.float64``; ``None`` = torch's default.
    """

    def __init__(self, d: int, width: int, *, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None) -> None:
        d = check_int("d", d, low=1)
        width = check_int("width", width, low=1)
        dtype = check_choice("dtype", dtype, [None, torch.float32, torch.float64]) or torch.get_default_dtype()
        check_memory(f"TwoLayerMLP(d={d}, width={width})", (width, d), dtype=dtype)
        hidden = nn.utils.skip_init(nn.Linear, d, width, dtype=dtype)
        output = nn.utils.skip_init(nn.Linear, width, 1, bias=False, dtype=dtype)
        with torch.no_grad():
            # nn.Linear's default init, in its order: kaiming-uniform weight (overwritten below, but its draws
            # advance the RNG exactly as in the notebook), U(±1/√d) bias (kept), output weight (overwritten)
            hidden.weight.uniform_(-1 / math.sqrt(d), 1 / math.sqrt(d), generator=generator)  # (m, d)
            hidden.bias.uniform_(-1 / math.sqrt(d), 1 / math.sqrt(d), generator=generator)  # (m,)
            output.weight.uniform_(-1 / math.sqrt(width), 1 / math.sqrt(width), generator=generator)  # (1, m)
            hidden.weight.normal_(0.0, 1.0 / width, generator=generator)  # std 1/m, as written
            output.weight.uniform_(-1.0, 1.0, generator=generator)
        super().__init__(OrderedDict(hidden=hidden, relu=nn.ReLU(), output=output))
        self.d, self.width = d, width


def theory_output(model: TwoLayerReLUNTK, X: Tensor) -> Tensor:
    """u = f(W, a, X) of the theory net on unit-norm inputs (dynamics.md §1.1), shape (n,).

    Raises:
        ValueError: when a row of X does not have unit norm (the theorems assume ‖x_i‖ = 1).
    """
    check_unit_rows(X)
    return model(X).squeeze(-1)  # (n,)
