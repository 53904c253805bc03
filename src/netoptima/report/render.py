"""Render stored claim evidence as a terminal table, Markdown and self-contained HTML."""

from __future__ import annotations

import base64
import html
import json
import os
import shutil
import textwrap
from pathlib import Path
from typing import Any

from netoptima.sweep import atomic_write_json

COLUMNS = (("claim", "id"), ("paper says", "paper_says"), ("we measured", "measured"), ("verdict", "verdict"))
REQUIRED = ("id", "verdict")


def save_evidence(claim_dir: Path, record: dict[str, Any], *, name: str = "evidence.json") -> Path:
    """Store one claim's record (metadata + evidence + timing) as ``evidence.json`` (atomically)."""
    return atomic_write_json(Path(claim_dir) / name, record)


def _read_record(path: Path) -> dict[str, Any]:
    """One ``evidence.json`` as a dict, or ``ValueError`` saying what is wrong with it."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"unreadable evidence ({type(exc).__name__}: {exc})") from None
    if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) for k in REQUIRED):
        raise ValueError("not netoptima evidence (expected a JSON object with 'id' and 'verdict')")
    return rec


def load_evidence(out_dir: str | Path, errors: list[tuple[Path, str]] | None = None) -> list[dict[str, Any]]:
    """Every readable ``claims/*/evidence.json`` under ``out_dir``, sorted by claim id.

    A corrupt or foreign file is skipped and appended to ``errors`` as ``(path, reason)`` when a list is given.

    Raises:
        FileNotFoundError: when ``out_dir`` holds no readable stored evidence.
    """
    root = Path(out_dir)
    recs = []
    for f in sorted((root / "claims").glob("*/evidence.json")):
        try:
            rec = _read_record(f)
        except ValueError as exc:
            if errors is not None:
                errors.append((f, str(exc)))
            continue
        rec["_dir"] = str(f.parent)
        recs.append(rec)
    for f in sorted((root / "claims").glob("*/progress.json")):
        if not (f.parent / "evidence.json").exists():
            rec = _pending(f)
            if rec is not None:
                recs.append(rec)
    if not recs:
        raise FileNotFoundError(f"no stored results under {str(root)!r} (expected claims/<id>/evidence.json); "
                                "run `netoptima reproduce --out DIR` first")
    return sorted(recs, key=lambda r: r["id"])


def _pending(path: Path) -> dict[str, Any] | None:
    """A claim whose sweep has not finished (``progress.json``, written while it runs or by ``--plan``) as a
    ``not run`` row: ``k of N runs done``; ``None`` for a file that is not netoptima's."""
    from netoptima.sweep import read_progress

    p = read_progress(path)
    if p is None:
        return None
    cost = f"; rough cost at this scale: {p['budget']}" if p.get("budget") else ""
    return {**p, "verdict": "not run", "measured": f"not run: {p['runs_done']}",
            "rule": "no verdict until every run of the claim's sweep has finished",
            "detail": f"sweep incomplete (updated {p.get('updated', '?')}); the same `netoptima reproduce` command "
                      f"resumes it{cost}", "_dir": str(path.parent)}


def rejudge_dir(out_dir: str | Path) -> tuple[list[tuple[str, str, str]], list[tuple[Path, str]]]:
    """Re-decide every stored claim under ``out_dir`` with today's rules and store the new judgement.

    Returns:
        ``(changed, errors)``: ``(claim id, old verdict, new verdict)`` for every verdict that changed, and
        ``(path, reason)`` for every evidence file that is corrupt, foreign or could not be judged (left as is).
    """
    from netoptima.claims import rejudge

    changed: list[tuple[str, str, str]] = []
    errors: list[tuple[Path, str]] = []
    for f in sorted((Path(out_dir) / "claims").glob("*/evidence.json")):
        try:
            rec = _read_record(f)
            c, j = rejudge(rec)
        except Exception as exc:  # one bad file is named and skipped; the others are still judged
            errors.append((f, str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"))
            continue
        notes = [n for n in rec.get("notes", []) if isinstance(n, str)]
        new = {**rec, "verdict": j.verdict, "measured": j.measured, "rule": j.rule,
               "detail": "; ".join(x for x in (j.detail, *notes) if x), "paper_says": j.paper_says or c.paper_value,
               "paper_value": c.paper_value}
        if new["verdict"] != rec["verdict"]:
            changed.append((rec["id"], rec["verdict"], j.verdict))
        if new != rec:
            atomic_write_json(f, new)
    return changed, errors


def _says(r: dict[str, Any]) -> str:
    """What the paper says about the setup that ran (falls back to the claim's printed figure)."""
    return str(r.get("paper_says") or r.get("paper_value", ""))


def _setup(r: dict[str, Any]) -> str:
    deviation = r.get("deviation")
    return f"differs from the paper: {deviation}" if deviation else "the paper's setting"


def _seconds(r: dict[str, Any]) -> str:
    seconds = r.get("seconds")
    return f"{seconds:.1f} s" if isinstance(seconds, (int, float)) else "time not recorded"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def terminal_table(records: list[dict[str, Any]], *, width: int | None = None) -> str:
    """A plain-text table ``claim | paper says | we measured | verdict`` with wrapped cells."""
    width = width or max(80, min(shutil.get_terminal_size((120, 20)).columns, 160))
    rows = [[_cell(r.get(key, "")) if key != "paper_says" else _says(r) for _, key in COLUMNS] for r in records]
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
        cells = [(_cell(r.get(k, "")) if k != "paper_says" else _says(r)).replace("|", "\\|") for _, k in COLUMNS]
        out.append("| " + " | ".join(cells) + " |")
    for r in records:
        out += ["", f"## {r['id']}", "", f"*{r.get('paper', '')}* — {r.get('statement', '')}", "",
                f"- paper says: {_says(r)}", f"- we measured: {_cell(r.get('measured', ''))}",
                f"- verdict: **{r['verdict']}** — rule: {r.get('rule', '')}", f"- detail: {r.get('detail', '')}",
                f"- scale: {r.get('scale', '?')} — {_setup(r)}; {_seconds(r)}"]
        for a in _artifacts(r):
            rel = a.relative_to(path.parent) if a.is_relative_to(path.parent) else a
            out += ["", f"![{a.name}]({rel})" if a.suffix == ".png" else f"- [{a.name}]({rel})"]
    _atomic_write_text(path, "\n".join(out) + "\n")
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
        f"<td>{e(_says(r))}</td><td>{e(_cell(r.get('measured', '')))}</td>"
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
            f"{e(r.get('statement', ''))}</p><ul><li>paper says: {e(_says(r))}</li>"
            f"<li>we measured: {e(_cell(r.get('measured', '')))}</li><li>verdict: <b>{e(r['verdict'])}</b> — "
            f"rule: {e(str(r.get('rule', '')))}</li><li>detail: {e(str(r.get('detail', '')))}</li>"
            f"<li>scale: {e(str(r.get('scale', '?')))} — {e(_setup(r))}; {e(_seconds(r))}</li></ul>{''.join(imgs)}")
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>netoptima report</title>"
           f"<style>{_CSS}</style></head><body><h1>netoptima report</h1><table><tr><th>claim</th>"
           f"<th>paper says</th><th>we measured</th><th>verdict</th></tr>{rows}</table>{''.join(sections)}"
           "</body></html>")
    _atomic_write_text(path, doc)
    return path


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render(out_dir: str | Path, errors: list[tuple[Path, str]] | None = None) -> tuple[str, Path, Path]:
    """Re-render the table, ``report.md`` and ``report.html`` from ``out_dir``'s stored evidence.

    Corrupt or foreign evidence files are skipped and appended to ``errors`` (``(path, reason)``) when given.
    """
    records = load_evidence(out_dir, errors)
    out = Path(out_dir)
    return terminal_table(records), write_markdown(records, out / "report.md"), write_html(records, out / "report.html")
