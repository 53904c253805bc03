"""Report rendering from stored evidence."""

from __future__ import annotations

import base64

import pytest

from netoptima.report import load_evidence, render, save_evidence, terminal_table
from netoptima.report.plots import figure, save


def _store(root, cid, verdict, with_plot):
    d = root / "claims" / cid
    arts = []
    if with_plot:
        fig, ax = figure()
        ax.plot([1, 2], [3, 4])
        arts.append(save(fig, d / "p.png").name)
    save_evidence(d, {"id": cid, "paper": "P", "statement": "S", "paper_value": "~95%", "measured": 0.96,
                      "verdict": verdict, "detail": "d | with a pipe", "artifacts": arts, "scale": "smoke",
                      "seconds": 1.0})


def test_render_writes_table_markdown_and_self_contained_html(tmp_path):
    _store(tmp_path, "a.one", "reproduced", True)
    _store(tmp_path, "b.two", "not run", False)
    table, md, html = render(tmp_path)
    lines = table.splitlines()
    assert lines[0].split(" | ")[0].strip() == "claim" and "verdict" in lines[0]
    assert "a.one" in table and "0.96" in table and "1 reproduced, 1 not run" in table
    text = md.read_text()
    assert "| a.one | ~95% | 0.96 | reproduced |" in text and "![p.png](claims/a.one/p.png)" in text
    page = html.read_text()
    png = (tmp_path / "claims" / "a.one" / "p.png").read_bytes()
    assert base64.b64encode(png).decode() in page  # plot embedded, the HTML stands alone
    assert "class='not-run'" in page


def test_table_wraps_long_cells():
    rec = {"id": "x.y", "paper_value": "p " * 80, "measured": "m " * 80, "verdict": "partly"}
    table = terminal_table([rec], width=100)
    assert all(len(line) <= 100 for line in table.splitlines())


def test_load_evidence_empty_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="netoptima reproduce"):
        load_evidence(tmp_path)


@pytest.mark.parametrize("content", [b'{"id": "x.y", "verd', b"[1, 2]", b"{}", b"\x89PNG\x00\xff", b"null"])
def test_a_bad_evidence_file_is_named_and_skipped(tmp_path, content):
    _store(tmp_path, "a.one", "reproduced", False)
    bad = tmp_path / "claims" / "b.bad" / "evidence.json"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(content)
    errors: list = []
    recs = load_evidence(tmp_path, errors)
    assert [r["id"] for r in recs] == ["a.one"]
    assert [p for p, _ in errors] == [bad] and errors[0][1]
    table, md, _ = render(tmp_path)  # the report is still written from the good files
    assert "a.one" in table and "b.bad" not in md.read_text()
