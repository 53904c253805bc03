"""``netoptima certify MODEL DATA [--json] [--loss L] [--tol T] [--OPTION VALUE ...]``.

MODEL is a file written by ``netoptima.save``; DATA a ``.npz`` file with arrays ``X`` (n, ...) and ``y`` (n, ...).
Any further ``--name value`` (or bare ``--flag``) is passed to the model class's certifier as the option
``name`` (dashes become underscores; ``true``/``false``, integers and numbers are converted), e.g.
``--last-layer``, ``--weight-decay 1e-4``. Prints a short table, or the certificate as JSON with ``--json``.
Exit 0 when a certificate was computed (certified or not); bad input: one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_USAGE = 2

__all__ = ["certify_main", "load_npz"]


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        raise _Usage(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="netoptima certify", description="How far is a saved network from the global optimum of its "
                "training objective? (netoptima.certify)")
    p.add_argument("model", help="a model file written by netoptima.save(model, path)")
    p.add_argument("data", help="a .npz file with arrays X (n, ...) and y (n, ...)")
    p.add_argument("--json", action="store_true", help="print the certificate as JSON")
    p.add_argument("--loss", default=None, help="mse, cross_entropy or huber (default: the model class's own)")
    p.add_argument("--tol", default="1e-6", help="gap below which the model counts as certified (default 1e-6)")
    return p


def load_npz(name: str) -> tuple[Any, Any]:
    """(X, y) from a ``.npz`` file, or a ValueError naming what is wrong."""
    import numpy as np

    path = Path(name)
    if path.suffix != ".npz":
        raise ValueError(f"DATA must be a .npz file with arrays X and y, got {name!r}")
    if not path.is_file():
        raise ValueError(f"data file {name!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "X" not in z.files or "y" not in z.files:
                raise ValueError(f"{name!r} must contain arrays 'X' and 'y'; it has {sorted(z.files)}")
            return z["X"], z["y"]
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"cannot read {name!r} as a .npz file: {type(exc).__name__}: {exc}") from None


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _options(rest: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    i = 0
    while i < len(rest):
        token = rest[i]
        m = re.fullmatch(r"--([A-Za-z][A-Za-z0-9-]*)(?:=(.*))?", token)
        if not m:
            raise _Usage(f"unexpected argument {token!r}")
        key = m.group(1).replace("-", "_")
        if m.group(2) is not None:
            options[key], i = _value(m.group(2)), i + 1
        elif i + 1 < len(rest) and not rest[i + 1].startswith("--"):
            options[key], i = _value(rest[i + 1]), i + 2
        else:
            options[key], i = True, i + 1
    return options


def certify_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``netoptima certify``; returns the exit code (0, or 2 on bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        _parser().print_help()
        return 0
    try:
        args, rest = _parser().parse_known_args(argv)
        options = _options(rest)
        try:
            tol = float(args.tol)
        except ValueError:
            raise _Usage(f"--tol must be a number >= 0, got {args.tol!r}") from None
        from netoptima.certification import certify, load

        X, y = load_npz(args.data)
        model = load(args.model)
        cert = certify(model, X, y, loss=args.loss, tol=tol, **options)
    except (_Usage, ValueError) as exc:  # NotCertifiable is a ValueError
        print(f"netoptima certify: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        out = cert.to_dict()
        out["model"], out["data"], out["model_class"] = args.model, args.data, type(model).__name__
        print(json.dumps(out, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(f"model        {args.model} ({type(model).__name__})\ndata         {args.data}: X "
              f"{tuple(X.shape)}, y {tuple(y.shape)}\n{cert}")
    return 0


if __name__ == "__main__":
    sys.exit(certify_main())
