"""docs/verdicts.md has one row for every registered claim (the table issue 14 asks for stays complete)."""

from pathlib import Path

from netoptima.claims import discover

DOC = Path(__file__).resolve().parents[1] / "docs" / "verdicts.md"


def test_every_claim_has_a_row_in_docs_verdicts():
    text = DOC.read_text()
    rows = {line.split("|")[1].strip().strip("`") for line in text.splitlines() if line.startswith("| `")}
    missing = sorted(cid for cid in discover() if cid not in rows)
    assert not missing, f"docs/verdicts.md lacks rows for {missing}"


PAPER_DOC = DOC.parent / "paper_scale.md"
PAPER_REPORT = DOC.parents[1] / "results" / "paper" / "report.md"


def _verdicts(report: str) -> dict[str, str]:
    """claim id -> verdict from a report.md table (its last column)."""
    cells = (line.split("|") for line in report.splitlines() if line.startswith("| ") and "." in line.split("|")[1])
    return {c[1].strip(): c[-2].strip().split(":")[0] for c in cells if len(c) > 4}


def test_docs_paper_scale_matches_the_committed_paper_table():
    """Every flip row of docs/paper_scale.md states the verdict that results/paper/report.md holds now."""
    committed = _verdicts(PAPER_REPORT.read_text())
    rows = [line.split("|") for line in PAPER_DOC.read_text().splitlines() if line.startswith("| `")]
    verdicts = {"reproduced", "partly", "not reproduced", "not run"}
    flips = {r[1].strip().strip("`"): r[3].strip() for r in rows if r[2].strip() in verdicts}
    assert flips, "docs/paper_scale.md lists no claim whose verdict moves"
    wrong = {cid: (said, committed.get(cid)) for cid, said in flips.items() if committed.get(cid) != said}
    assert not wrong, f"docs/paper_scale.md disagrees with results/paper/report.md: {wrong}"
    assert "@@" not in PAPER_DOC.read_text(), "docs/paper_scale.md has an unfilled placeholder"
