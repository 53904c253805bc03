"""``netoptima certify``: load a saved QuadraticActivationNet and a data set, print its certificate (spec §3.6).

``netoptima.cli`` forwards the rest of the ``netoptima certify`` line here::

    netoptima certify MODEL.pt DATA --beta B [--digit K] [--n N] [--split train|test] [--loss squared] [--raw]

DATA is ``mnist`` or ``digits`` (one-vs-all ±1 targets for ``--digit``; rows scaled to unit norm unless
``--raw``) or a ``.npz`` file with arrays ``X`` (n, d) and ``y`` (n,) used as they are. ``--n`` (1..size) and
``--digit`` apply to mnist and digits, ``--split`` to mnist only; for a ``.npz`` file they are refused.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from netoptima.convex.model import LOSSES, QuadraticActivationNet

__all__ = ["certify_cli", "load_data", "load_net", "save_net"]

EXIT_USAGE = 2


class _Usage(Exception):
    pass


def save_net(net: QuadraticActivationNet, path: str | Path) -> Path:
    """Save the net's state dict (U, alpha, activation) with ``torch.save``."""
    path = Path(path)
    torch.save(net.state_dict(), path)
    return path


def load_net(path: str | Path) -> QuadraticActivationNet:
    """Rebuild a :class:`QuadraticActivationNet` from a state dict saved by :func:`save_net`.

    Raises:
        ValueError: the file is not a state dict with ``U`` (m, d), ``alpha`` (m,) and ``activation`` (3,).
    """
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"model file {str(path)!r} does not exist") from None
    except Exception as exc:  # torch raises several types for a non-checkpoint file
        raise ValueError(f"cannot read {str(path)!r} as a torch state dict: {type(exc).__name__}: {exc}") from None
    if not isinstance(state, dict) or not {"U", "alpha", "activation"} <= set(state):
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{str(path)!r} must hold a QuadraticActivationNet state dict with keys U, alpha, "
                         f"activation; got {keys}")
    U, alpha, act = state["U"], state["alpha"], state["activation"]
    kinds = {k: type(state[k]).__name__ for k in ("U", "alpha", "activation") if not isinstance(state[k], torch.Tensor)}
    if kinds:
        raise ValueError(f"{str(path)!r}: U, alpha and activation must be tensors (as saved by save_net); got "
                         + ", ".join(f"{k} a {v}" for k, v in kinds.items()))
    if not (U.is_floating_point() and alpha.is_floating_point() and act.is_floating_point()):
        raise ValueError(f"{str(path)!r}: U, alpha and activation must be floating-point tensors; got "
                         f"{U.dtype}, {alpha.dtype}, {act.dtype}")
    if U.ndim != 2 or alpha.shape != (U.shape[0],) or act.shape != (3,):
        raise ValueError(f"{str(path)!r}: expected U (m, d), alpha (m,), activation (3,); got {tuple(U.shape)}, "
                         f"{tuple(alpha.shape)}, {tuple(act.shape)}")
    for k in ("U", "alpha", "activation"):
        if not bool(torch.isfinite(state[k]).all()):
            raise ValueError(f"{str(path)!r}: the model's {k} contains NaN or infinite values")
    net = QuadraticActivationNet(U.shape[1], U.shape[0], activation=act.tolist(), dtype=U.dtype)
    net.load_state_dict(state)
    return net


def load_data(name: str, *, digit: int | None = None, n: int | None = None, split: str | None = None,
              raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) for the certify command: ``mnist``, ``digits`` (one-vs-all for ``digit``) or a ``.npz`` file.

    ``n`` (the first n images, 1 ≤ n ≤ the set's size) and ``digit`` apply to ``mnist`` and ``digits``;
    ``split`` (``train``, the default, or ``test``) to ``mnist`` only: scikit-learn's digits have no split.
    A ``.npz`` file is used as it is, so ``n``, ``digit`` and ``split`` are refused for it.

    Raises:
        ValueError: naming the option, its value and what is allowed.
    """
    from netoptima.convex.data import unit_rows

    if name in ("mnist", "digits"):
        if digit is None or not 0 <= digit <= 9:
            raise ValueError(f"data set {name!r} needs --digit K (0..9) for one-vs-all ±1 targets, got {digit!r}")
        if name == "mnist":
            from netoptima.data import mnist

            if n is not None and n < 1:
                raise ValueError(f"--n must be an integer >= 1 (number of images), got {n}")
            X, lab = mnist(n, split="train" if split is None else split)
        else:
            from netoptima.data import digits

            if split is not None:
                raise ValueError(f"--split applies to mnist only (scikit-learn's digits have no split), "
                                 f"got --split {split!r}")
            X, lab = digits()
            if n is not None:
                if not 1 <= n <= X.shape[0]:
                    raise ValueError(f"--n must be an integer in [1, {X.shape[0]}] for digits, got {n}")
                X, lab = X[:n], lab[:n]
        Xn = X.numpy().astype(np.float64)
        return (Xn if raw else unit_rows(Xn)), np.where(lab.numpy() == digit, 1.0, -1.0)
    path = Path(name)
    if path.suffix != ".npz":
        raise ValueError(f"data must be 'mnist', 'digits' or a .npz file with arrays X and y; got {name!r}")
    if not path.exists():
        raise ValueError(f"data file {name!r} does not exist")
    given = [f"--{k} {v}" for k, v in (("n", n), ("digit", digit), ("split", split)) if v is not None]
    if given:
        raise ValueError(f"{' and '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to mnist and digits only; "
                         f"a .npz file is used as it is "
                         f"(store the rows and ±1 targets you want in {name!r})")
    try:
        with np.load(path) as z:
            if not hasattr(z, "files") or "X" not in z or "y" not in z:
                has = sorted(z.files) if hasattr(z, "files") else "no named arrays"
                raise _Usage(f"{name!r} must contain arrays 'X' (n, d) and 'y' (n,); it has {has}")
            return np.asarray(z["X"], dtype=np.float64), np.asarray(z["y"], dtype=np.float64)
    except _Usage as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # numpy raises several types for a corrupt, pickled or non-numeric file
        raise ValueError(f"cannot read {name!r} as a .npz file of numeric arrays X and y: "
                         f"{type(exc).__name__}: {exc}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netoptima certify", description="Certify how far a saved quadratic-activation "
                                "network is from the global optimum of ℓ(f(X), y) + β Σ|α_j| (no SDP needed).")
    p.add_argument("model", help="state dict saved by netoptima.convex.save_net (torch.save(net.state_dict()))")
    p.add_argument("data", help="'mnist', 'digits' or a .npz file with arrays X (n, d) and y (n,)")
    p.add_argument("--beta", required=True, help="ℓ1 weight β > 0 of the objective")
    p.add_argument("--loss", default="squared", help=f"one of {', '.join(LOSSES)} (default squared)")
    p.add_argument("--delta", default="1.0", help="Huber threshold (default 1)")
    p.add_argument("--digit", default=None, help="class for one-vs-all targets (mnist, digits)")
    p.add_argument("--n", default=None, help="number of images (mnist, digits; default all)")
    p.add_argument("--split", default=None, help="train (default) or test (mnist only)")
    p.add_argument("--raw", action="store_true", help="do not scale mnist/digits rows to unit norm")
    return p


def _number(name: str, value: str | None, kind: type) -> Any:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise _Usage(f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None


def certify_cli(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``netoptima certify``: prints the certificate; exit 0, or 2 with one line on bad input."""
    from netoptima.convex.certificate import certificate

    args = _parser().parse_args(argv)
    try:
        beta = _number("--beta", args.beta, float)
        delta = _number("--delta", args.delta, float)
        digit = _number("--digit", args.digit, int)
        n = _number("--n", args.n, int)
        net = load_net(args.model)
        X, y = load_data(args.data, digit=digit, n=n, split=args.split, raw=args.raw)
        cert = certificate(net, X, y, beta=beta, loss=args.loss, delta=delta)
    except (_Usage, ValueError) as exc:
        print(f"netoptima certify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    verdict = ("globally optimal (relative gap < 1e-6)" if cert.relative_gap < 1e-6 else
               f"at most {cert.gap:.4g} above the global optimum")
    print(f"model    {args.model}: width {net.width}, d {net.d}, σ(t) = {net.abc[0]:g} t² + {net.abc[1]:g} t + "
          f"{net.abc[2]:g}\ndata     {args.data}: n {X.shape[0]}, loss {args.loss}, beta {beta:g}\n{cert}\n"
          f"verdict  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(certify_cli())
