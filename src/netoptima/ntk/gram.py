"""Empirical NTK Gram matrices G = J Jᵀ of a network on a batch, over its trainable parameters.

Two ways to get the same matrix:

- ``layerwise`` (dynamics.md §2.1, "efficient PyTorch implementation"): for an ``nn.Sequential`` of
  ``nn.Linear`` and elementwise activations, the per-sample gradient of a Linear layer is the outer
  product Γ_i a_iᵀ of the gradient w.r.t. its output and its input, so

      G = Σ_l (A_{l−1} A_{l−1}ᵀ + 1[bias_l trainable]) ⊙ (Γ_l Γ_lᵀ),

  with A_{l−1} (n × in) the layer inputs from one forward pass and Γ_l = ∂f/∂z_l from one batched
  backward pass done by hand with matmuls. The cost is a few n × n × width matmuls per layer instead of
  the n² × (#params) of forming J; nothing of size (#params) is ever materialised. G is assembled in
  tiles of ``_TILE`` samples, upper tiles only (G is symmetric), which halves the matmul FLOPs for large
  n and keeps the elementwise passes in cache. Memory: G, the stored A_l and Γ_l (n·width and
  n·c·width per layer) and one tile's temporaries — never a second (n·c)² matrix.
- ``func``: ``torch.func.jacrev`` of the flattened batch output w.r.t. the trainable parameters through
  ``functional_call``, then J Jᵀ. It works for any module (including ones that couple samples), at the
  cost of holding J, of size (n·c) × (#params), and of n·c vectorised backward passes over the batch.

For c outputs per sample the Gram is (n·c) × (n·c), indexed sample-major: row ``i * c + k`` is output
``k`` of sample ``i`` (the order of ``jacrev`` applied to ``model(X).reshape(-1)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, jacrev

from netoptima.conventions import check_choice, check_int
from netoptima.models.two_layer import Quadratic

__all__ = ["METHODS", "ELEMENTWISE_ACTIVATIONS", "layerwise_flops", "ntk_gram", "supports_layerwise"]

METHODS = ("auto", "layerwise", "func")


def _autograd_slope(module: nn.Module, z: Tensor, h: Tensor) -> Tensor:
    """σ'(z) of an elementwise op by autograd: the gradient of Σ σ(z) is σ'(z) entrywise."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        (slope,) = torch.autograd.grad(module(z.clone()).sum(), z)  # clone: the op may be in-place
    return slope


# The elementwise activations the layerwise path accepts (exact types: a subclass may change forward),
# each with σ'(z) computed from the pre-activation z and the activation h = σ(z). ``None`` means σ' ≡ 1.
Slope = Callable[[nn.Module, Tensor, Tensor], Tensor] | None
ELEMENTWISE_ACTIVATIONS: dict[type[nn.Module], Slope] = {
    nn.Identity: None,
    nn.ReLU: lambda m, z, h: (z > 0).to(z.dtype),  # relu'(0) = 0, as in autograd
    nn.Tanh: lambda m, z, h: 1 - h * h,
    nn.Sigmoid: lambda m, z, h: h * (1 - h),
    Quadratic: lambda m, z, h: 2 * z,
    nn.Softplus: _autograd_slope,  # beta / threshold handled by the op itself
    nn.GELU: _autograd_slope,  # exact and tanh-approximate variants
    nn.SiLU: _autograd_slope,
}


def _layerwise_plan(model: nn.Module) -> tuple[list[nn.Module], str]:
    """Flatten ``model`` into Linear / activation layers, or explain why the layerwise path can't apply.

    Returns:
        ``(layers, "")`` when it applies, else ``([], reason)``.
    """
    layers: list[nn.Module] = []

    def visit(module: nn.Module) -> str:
        if module._forward_hooks or module._forward_pre_hooks:
            return f"{type(module).__name__} has forward hooks"
        if isinstance(module, nn.Sequential):
            if type(module).forward is not nn.Sequential.forward:
                return f"{type(module).__name__} overrides nn.Sequential.forward"
            for child in module:
                reason = visit(child)
                if reason:
                    return reason
            return ""
        if type(module) is not nn.Linear and type(module) not in ELEMENTWISE_ACTIVATIONS:
            return f"{type(module).__name__} is neither nn.Linear nor a whitelisted elementwise activation"
        layers.append(module)
        return ""

    if not isinstance(model, nn.Sequential):
        return [], f"{type(model).__name__} is not an nn.Sequential"
    reason = visit(model)
    if reason:
        return [], reason
    linears = [m for m in layers if type(m) is nn.Linear]
    if not linears:
        return [], "it has no nn.Linear layer"
    params = [p for m in linears for p in m.parameters(recurse=False)]
    if len({id(p) for p in params}) != len(params):
        # J of a tied parameter sums over its uses; the per-layer sum would miss the cross terms
        return [], "it shares parameters between layers"
    return layers, ""


def supports_layerwise(model: nn.Module) -> bool:
    """Whether ``ntk_gram(model, X, method="auto")`` uses the fast layerwise path.

    True for an ``nn.Sequential`` (possibly nested, ``forward`` not overridden, no forward hooks) made of
    ``nn.Linear`` layers without tied parameters and activations listed in ``ELEMENTWISE_ACTIVATIONS``.
    """
    return not _layerwise_plan(model)[1]


def _check_input(model: nn.Module, X: Tensor, layers: list[nn.Module]) -> None:
    """Validate X: floating samples on axis 0; (n, in_features) for an MLP (``layers`` = its plan)."""
    if not isinstance(X, Tensor):
        raise ValueError(f"X must be a torch.Tensor of shape (n, d), got {type(X).__name__}")
    if X.ndim == 0 or X.shape[0] == 0 or not X.is_floating_point():
        raise ValueError(f"X must be a floating tensor with at least one sample, got shape "
                         f"{tuple(X.shape)} and dtype {X.dtype}")
    if layers:  # activations keep the width, so the first Linear fixes d
        first = next(m for m in layers if type(m) is nn.Linear)
    elif isinstance(model, nn.Sequential) and len(model) and type(model[0]) is nn.Linear:
        first = model[0]
    else:
        first = None
    if first is not None and (X.ndim != 2 or X.shape[1] != first.in_features):
        raise ValueError(f"X must have shape (n, {first.in_features}) to match the first Linear's "
                         f"in_features, got shape {tuple(X.shape)}")
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes and X.dtype not in dtypes:
        raise ValueError(f"X has dtype {X.dtype} but the model's parameters are "
                         f"{', '.join(sorted(map(str, dtypes)))}; convert one of them")
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"X must be finite; it has {int((~torch.isfinite(X)).sum())} NaN or infinite entries")
    bad = [name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
    if bad:
        raise ValueError(f"the model's parameters must be finite; {', '.join(bad)} hold NaN or infinite values")


# Rows of G per tile (_TILE // c samples of c outputs). G is symmetric, so only tiles (p, q) with p ≤ q
# are computed (the rest are mirrored): ~half the matmul FLOPs for n ≫ tile, while the tiles' gemms stay
# large enough to run near peak and the elementwise passes over a tile stay in cache.
_TILE = 256


def _tile_starts(n: int, c: int) -> list[int]:
    """First sample of each tile: blocks of max(1, _TILE // c) samples."""
    return list(range(0, n, max(1, _TILE // c)))

# One Linear layer's factors: (A, Γ) with A (n, in [+1]) its inputs (a ones column appended when the bias
# is trainable, since ∂z/∂b = I adds 1 to every a_iᵀa_j), or None when only the bias is trainable; and
# Γ (n, c, out) = ∂f/∂z, or None at the output layer, where Γ_i Γ_jᵀ = I_c.
Factors = tuple[Tensor | None, Tensor | None]


def _layer_factors(layers: list[nn.Module], X: Tensor, first: int, c: int) -> list[Factors]:
    """One forward pass (inputs A_l, slopes σ'(z)) and one batched matmul backward (Γ_l) for every
    Linear layer with a trainable parameter; ``first`` is the lowest such layer."""
    n = X.shape[0]
    inputs: dict[int, Tensor] = {}  # layer index -> A (n, in) for Linear layers at or above `first`
    slopes: dict[int, Tensor | None] = {}  # layer index -> σ'(z) (n, width) for activations above `first`
    h = X  # (n, d)
    for i, layer in enumerate(layers):
        if type(layer) is nn.Linear:
            if i >= first:
                inputs[i] = h
            h = F.linear(h, layer.weight, layer.bias)  # (n, out)
        else:
            z = h
            h = layer(z.clone() if getattr(layer, "inplace", False) else z)  # keep z for σ'(z)
            if i > first:
                slope = ELEMENTWISE_ACTIVATIONS[type(layer)]
                slopes[i] = None if slope is None else slope(layer, z, h)

    factors: list[Factors] = []
    gamma: Tensor | None = None  # ∂f/∂h (n, c, width); None = identity, at the network output
    for i in range(len(layers) - 1, first - 1, -1):
        layer = layers[i]
        if type(layer) is nn.Linear:
            w_grad = layer.weight.requires_grad
            b_grad = layer.bias is not None and layer.bias.requires_grad
            if w_grad and b_grad:
                factors.append((torch.cat([inputs[i], X.new_ones(n, 1)], dim=1), gamma))  # (n, in + 1)
            elif w_grad or b_grad:
                factors.append((inputs[i] if w_grad else None, gamma))
            if i > first:  # Γ_{below} = Γ W: back through z = W h + b
                W = layer.weight  # (out, in)
                gamma = W.expand(n, *W.shape) if gamma is None else gamma @ W  # (n, c, in)
        elif slopes[i] is not None:
            if gamma is None:  # an activation after the last Linear: Γ = diag(σ'(z))
                gamma = torch.diag_embed(slopes[i])  # (n, c, c)
            else:
                gamma = gamma * slopes[i][:, None, :]  # (n, c, width)
    return factors


def _gram_tile(factors: list[Factors], p: slice, q: slice, c: int, like: Tensor) -> Tensor:
    """Σ_l (A_p A_qᵀ) ⊙ (Γ_p Γ_qᵀ) for sample blocks p and q, as a (|p|, c, |q|, c) tensor."""
    bp, bq = p.stop - p.start, q.stop - q.start
    acc: Tensor | None = None
    for A, gamma in factors:
        K = A[p] @ A[q].T if A is not None else None  # (bp, bq); None = all ones (bias only)
        if gamma is None:  # output layer: the (k, k') block of Γ Γᵀ is δ_kk'
            if c == 1 and K is not None:
                acc = K.view(bp, 1, bq, 1) if acc is None else acc.add_(K.view(bp, 1, bq, 1))
                continue
            acc = like.new_zeros(bp, c, bq, c) if acc is None else acc
            acc.diagonal(dim1=1, dim2=3).add_(K[:, :, None] if K is not None else 1)  # (bp, bq, c)
            continue
        out = gamma.shape[-1]
        T = (gamma[p].reshape(bp * c, out) @ gamma[q].reshape(bq * c, out).T).view(bp, c, bq, c)
        if K is None:
            acc = T if acc is None else acc.add_(T)
        elif acc is None:
            acc = T.mul_(K[:, None, :, None])
        else:
            acc.addcmul_(T, K[:, None, :, None])  # one fused pass over the tile
    assert acc is not None  # `factors` is never empty
    return acc


@torch.no_grad()
def _layerwise_gram(layers: list[nn.Module], X: Tensor) -> Tensor:
    """Layerwise NTK Gram G = Σ_l (A_l A_lᵀ) ⊙ (Γ_l Γ_lᵀ), assembled tile by tile (upper tiles only)."""
    linears = [i for i, m in enumerate(layers) if type(m) is nn.Linear]
    c, n = layers[linears[-1]].out_features, X.shape[0]
    G = X.new_empty(n * c, n * c)  # (n·c, n·c)
    trainable = [i for i in linears if any(p.requires_grad for p in layers[i].parameters())]
    if not trainable:
        return G.zero_()
    factors = _layer_factors(layers, X, trainable[0], c)
    Gv = G.view(n, c, n, c)
    bounds = [*_tile_starts(n, c), n]
    for a in range(len(bounds) - 1):
        p = slice(bounds[a], bounds[a + 1])
        for b in range(a, len(bounds) - 1):
            q = slice(bounds[b], bounds[b + 1])
            tile = _gram_tile(factors, p, q, c, X)  # (|p|, c, |q|, c)
            if a == b:  # gemm rounding need not be symmetric: make G exactly so
                rows = tile.shape[0] * c
                flat = tile.reshape(rows, rows)
                tile = ((flat + flat.T) * 0.5).view(tile.shape)
            Gv[p, :, q, :] = tile
            if a != b:
                Gv[q, :, p, :] = tile.permute(2, 3, 0, 1)  # G is symmetric
    return G


def layerwise_flops(model: nn.Module, n: int) -> int:
    """Matmul FLOPs (2 per multiply-add) of ``ntk_gram(model, X, method="layerwise")`` for n samples.

    Counts the forward pass, the Γ backward and the tiled A Aᵀ, Γ Γᵀ products; elementwise passes are
    not counted. For benchmarks (achieved GFLOP/s); raises ValueError if the layerwise path can't apply.
    """
    layers, reason = _layerwise_plan(model)
    if reason:
        raise ValueError(f"layerwise_flops needs a model the layerwise path supports, but {reason}")
    n = check_int("n", n, low=1)
    linears = [m for m in layers if type(m) is nn.Linear]
    c = linears[-1].out_features
    trainable = [j for j, m in enumerate(linears) if any(p.requires_grad for p in m.parameters())]
    if not trainable:
        return 0
    tail = layers[layers.index(linears[-1]) + 1:]  # activations after the last Linear make Γ_out ≠ I
    out_gamma = any(ELEMENTWISE_ACTIVATIONS[type(m)] is not None for m in tail)
    bounds = [*_tile_starts(n, c), n]
    sizes = [hi - lo for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    pairs = sum(sizes[a] * sizes[b] for a in range(len(sizes)) for b in range(a, len(sizes)))  # Σ |p||q|
    flops = sum(2 * n * m.in_features * m.out_features for m in linears)  # forward
    for j in range(trainable[0], len(linears)):
        m = linears[j]
        has_gamma = j < len(linears) - 1 or out_gamma
        if j > trainable[0] and has_gamma:
            flops += 2 * n * c * m.out_features * m.in_features  # Γ W
        if m.weight.requires_grad:
            flops += 2 * pairs * (m.in_features + (m.bias is not None and m.bias.requires_grad))  # A_p A_qᵀ
        if any(p.requires_grad for p in m.parameters()) and has_gamma:
            flops += 2 * pairs * c * c * m.out_features  # Γ_p Γ_qᵀ
    return flops


@contextmanager
def _restored_slots(model: nn.Module) -> Iterator[None]:
    """Put every module's parameters and buffers back after ``functional_call``.

    Works around pytorch#164759: when one submodule is reachable by two paths (a module used twice),
    ``functional_call`` restores its slots in the wrong order and leaves the swapped-in tensors there.
    """
    saved = [(m, dict(m._parameters), dict(m._buffers)) for m in model.modules()]
    try:
        yield
    finally:
        for module, params, buffers in saved:
            module._parameters.update(params)
            module._buffers.update(buffers)


def _func_gram(model: nn.Module, X: Tensor) -> Tensor:
    """Generic Gram: J = jacrev of the flattened batch output w.r.t. the trainable parameters; G = J Jᵀ."""
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    n = X.shape[0]

    def flatten(out: Tensor) -> Tensor:
        if out.ndim == 0 or out.shape[0] != n:
            raise ValueError(f"model output must have the samples on its first axis (n={n}), "
                             f"got shape {tuple(out.shape)}")
        return out.reshape(-1)  # (n·c,) sample-major

    def flat_output(p: dict[str, Tensor]) -> Tensor:
        return flatten(functional_call(model, p, (X,)))  # frozen params and buffers come from `model`

    if not params:
        with torch.no_grad():
            N = flatten(model(X)).numel()
        return X.new_zeros(N, N)
    with _restored_slots(model):
        jac = jacrev(flat_output)(params)  # name -> (n·c, *p.shape)
    G: Tensor | None = None
    for J in jac.values():
        J = J.reshape(J.shape[0], -1)  # (n·c, #p)
        G = J @ J.T if G is None else G.addmm_(J, J.T)  # (n·c, n·c)
    return G


def ntk_gram(model: nn.Module, X: Tensor, *, method: str = "auto") -> Tensor:
    """Empirical NTK Gram G = J Jᵀ, J = ∂ vec(model(X)) / ∂θ over the parameters with ``requires_grad``.

    Frozen parameters (``requires_grad=False``) are left out of J, e.g. the fixed output signs of
    ``TwoLayerReLUNTK``, whose Gram is then Du et al.'s H(0) (dynamics.md §1.1).

    Arguments:
        model: the network; its output on X must be (n,), (n, 1) or (n, c) (any (n, ...) for "func").
        X: (n, d) batch of inputs, same dtype as the model's parameters.
        method: ``"layerwise"`` (the per-layer identity G = Σ_l (A Aᵀ + 1[bias]) ⊙ (Γ Γᵀ), for
            ``nn.Sequential`` MLPs; see ``supports_layerwise``), ``"func"`` (``torch.func.jacrev`` on any
            module) or ``"auto"`` (layerwise when supported, else func).

    Returns:
        (n, n) for scalar outputs; (n·c, n·c) for c outputs per sample, entry ``[i*c + k, j*c + l]``
        = ⟨∂f_k(x_i)/∂θ, ∂f_l(x_j)/∂θ⟩. Same dtype and device as X; exactly symmetric on the
        layerwise path, symmetric up to rounding on the func path.
    """
    check_choice("method", method, METHODS)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    layers, reason = _layerwise_plan(model)
    if method == "layerwise" and reason:
        raise ValueError(f"method='layerwise' needs an nn.Sequential of nn.Linear and elementwise "
                         f"activations, but {reason}; use method='func' or 'auto'")
    _check_input(model, X, layers)
    if method != "func" and not reason:
        return _layerwise_gram(layers, X)
    return _func_gram(model, X)
