"""Render stored claim evidence as a terminal table, Markdown and self-contained HTML."""

from __future__ import annotations

import base64
import html
import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

from netoptima.sweep import atomic_write_json

COLUMNS = (("claim", "id"), ("paper says", "paper_value"), ("we measured", "measured"), ("verdict", "verdict"))


def save_evidence(claim_dir: Path, record: dict[str, Any]) -> Path:
    """Store one claim's record (metadata + evidence + timing) as ``evidence.json`` (atomically)."""
    return atomic_write_json(Path(claim_dir) / "evidence.json", record)


def load_evidence(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every ``claims/*/evidence.json`` under ``out_dir``, sorted by claim id.

    Raises:
        FileNotFoundError: when ``out_dir`` holds no stored evidence.
    """
    root = Path(out_dir)
    files = sorted((root / "claims").glob("*/evidence.json"))
    if not files:
        raise FileNotFoundError(f"no stored results under {str(root)!r} (expected claims/<id>/evidence.json); "
                                "run `netoptima reproduce --out DIR` first")
    recs = [json.loads(f.read_text()) for f in files]
    for rec, f in zip(recs, files, strict=True):
        rec["_dir"] = str(f.parent)
    return sorted(recs, key=lambda r: r["id"])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def terminal_table(records: list[dict[str, Any]], *, width: int | None = None) -> str:
    """A plain-text table ``claim | paper says | we measured | verdict`` with wrapped cells."""
    width = width or max(80, min(shutil.get_terminal_size((120, 20)).columns, 160))
    rows = [[_cell(r.get(key, "")) for _, key in COLUMNS] for r in records]
    heads = [h for h, _ in COLUMNS]
    natural = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(heads)]
    budget = width - 3 * (len(heads) - 1)
    fixed = natural[0] + natural[3]  # id and verdict never wrap
    rest = max(20, budget - fixed)
    share = [natural[0], max(10, min(natural[1], rest // 2)), 0, natural[3]]
    share[2] = max(10, min(natural[2], rest - share[1]))
    lines = [" | ".join(h.ljust(w) for h, w in zip(heads, share, strict=True)).rstrip(),
             "-+-".join("-" * w for w in share)]
    for row in rows:
        cols = [textwrap.wrap(c, w) or [""] for c, w in zip(row, share, strict=True)]
        for k in range(max(len(c) for c in cols)):
            lines.append(" | ".join((c[k] if k < len(c) else "").ljust(w)
                                    for c, w in zip(cols, share, strict=True)).rstrip())
    counts = {}
    for r in records:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    lines.append("")
    lines.append(", ".join(f"{n} {v}" for v, n in counts.items()))
    return "\n".join(lines)


def _artifacts(rec: dict[str, Any]) -> list[Path]:
    base = Path(rec["_dir"])
    return [p if p.is_absolute() else base / p for p in map(Path, rec.get("artifacts", []))]


def write_markdown(records: list[dict[str, Any]], path: str | Path) -> Path:
    """``report.md``: the table, then one section per claim with its detail and plots (relative links)."""
    path = Path(path)
    out = ["# netoptima report", "", "| claim | paper says | we measured | verdict |", "|---|---|---|---|"]
    for r in records:
        cells = [_cell(r.get(k, "")).replace("|", "\\|") for _, k in COLUMNS]
        out.append("| " + " | ".join(cells) + " |")
    for r in records:
        out += ["", f"## {r['id']}", "", f"*{r.get('paper', '')}* — {r.get('statement', '')}", "",
                f"- paper says: {r.get('paper_value', '')}", f"- we measured: {_cell(r.get('measured', ''))}",
                f"- verdict: **{r['verdict']}**", f"- detail: {r.get('detail', '')}",
                f"- scale: {r.get('scale', '?')}, {r.get('seconds', 0):.1f} s"]
        for a in _artifacts(r):
            rel = a.relative_to(path.parent) if a.is_relative_to(path.parent) else a
            out += ["", f"![{a.name}]({rel})" if a.suffix == ".png" else f"- [{a.name}]({rel})"]
    path.write_text("\n".join(out) + "\n")
    return path


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}
.reproduced{background:#d9f2d9}.partly{background:#fff3cd}.not-reproduced{background:#f8d7da}
.not-run{background:#e2e3e5}img{max-width:100%}"""


def write_html(records: list[dict[str, Any]], path: str | Path) -> Path:
    """``report.html``: self-contained (PNG plots embedded as base64)."""
    path = Path(path)
    e = html.escape
    rows = "".join(
        f"<tr class='{r['verdict'].replace(' ', '-')}'><td><a href='#{e(r['id'])}'>{e(r['id'])}</a></td>"
        f"<td>{e(str(r.get('paper_value', '')))}</td><td>{e(_cell(r.get('measured', '')))}</td>"
        f"<td>{e(r['verdict'])}</td></tr>" for r in records)
    sections = []
    for r in records:
        imgs = []
        for a in _artifacts(r):
            if a.suffix == ".png" and a.exists():
                b64 = base64.b64encode(a.read_bytes()).decode()
                imgs.append(f"<figure><img alt='{e(a.name)}' src='data:image/png;base64,{b64}'>"
                            f"<figcaption>{e(a.name)}</figcaption></figure>")
            else:
                imgs.append(f"<p>artifact: <code>{e(str(a))}</code></p>")
        sections.append(
            f"<h2 id='{e(r['id'])}'>{e(r['id'])}</h2><p><i>{e(r.get('paper', ''))}</i> — "
            f"{e(r.get('statement', ''))}</p><ul><li>paper says: {e(str(r.get('paper_value', '')))}</li>"
            f"<li>we measured: {e(_cell(r.get('measured', '')))}</li><li>verdict: <b>{e(r['verdict'])}</b></li>"
            f"<li>detail: {e(str(r.get('detail', '')))}</li>"
            f"<li>scale: {e(str(r.get('scale', '?')))}, {r.get('seconds', 0):.1f} s</li></ul>{''.join(imgs)}")
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>netoptima report</title>"
           f"<style>{_CSS}</style></head><body><h1>netoptima report</h1><table><tr><th>claim</th>"
           f"<th>paper says</th><th>we measured</th><th>verdict</th></tr>{rows}</table>{''.join(sections)}"
           "</body></html>")
    path.write_text(doc)
    return path


def render(out_dir: str | Path) -> tuple[str, Path, Path]:
    """Re-render the table, ``report.md`` and ``report.html`` from ``out_dir``'s stored evidence."""
    records = load_evidence(out_dir)
    out = Path(out_dir)
    return terminal_table(records), write_markdown(records, out / "report.md"), write_html(records, out / "report.html")
