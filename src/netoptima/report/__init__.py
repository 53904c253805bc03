"""Reports: the terminal table, ``report.md`` and ``report.html`` (PNG plots inline), from stored JSON.

Each claim run leaves ``<out>/claims/<claim_id>/evidence.json``; :func:`render` reads only those files,
so ``netoptima report DIR`` re-renders without running anything.
"""

from netoptima.report.render import (
    load_evidence,
    rejudge_dir,
    render,
    save_evidence,
    terminal_table,
    write_html,
    write_markdown,
)

__all__ = ["load_evidence", "rejudge_dir", "render", "save_evidence", "terminal_table", "write_html", "write_markdown"]
