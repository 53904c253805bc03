"""Plot helpers: matplotlib on the Agg backend, one function per figure in each part, PNG beside its JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def figure(**kwargs: Any) -> tuple[Any, Any]:
    """A new (figure, axes) pair on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    kwargs.setdefault("figsize", (6.0, 4.2))
    return plt.subplots(**kwargs)


def save(fig: Any, path: str | Path) -> Path:
    """Save ``fig`` as PNG (via a temp name, then rename) and close it."""
    import os

    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
