"""Small HTML pieces the audit report's sections share: escaping, sizes, badges, legends,
and tables that stay short at scale (paged, or with their tail collapsed).

A paged table is complete in the markup: every row is there and readable without
JavaScript; the report's script only hides the rows outside the current page and shows the
pager (``report.js``), so nothing is lost when scripts are off.
"""

from __future__ import annotations

from html import escape

PAGE_SIZE = 25        # rows of a paged table shown at once


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def human_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size:.1f} PiB"


def common_folder(paths: list[str]) -> str:
    """The folder every path is under ("" when none is shared), ending in "/"."""
    if len(paths) < 2:
        return ""
    cut = paths[0].rfind("/") + 1
    prefix = paths[0][:cut]
    for p in paths[1:]:
        while prefix and not p.startswith(prefix):
            prefix = prefix[:prefix.rstrip("/").rfind("/") + 1]
    return prefix


def short_path(path: str, folder: str) -> str:
    """``path`` without the audit's common folder, for tables; the full path is a tooltip."""
    return path[len(folder):] if folder and path.startswith(folder) else path


def cap_link(index: int | None, path: str, folder: str) -> str:
    """A capture's name, short, linking to its block in the findings section."""
    text = esc(short_path(path, folder))
    if index is None:
        return f'<span title="{esc(path)}">{text}</span>'
    return f'<a href="#cap-{index}" title="{esc(path)}">{text}</a>'


def badge(verdict: str) -> str:
    return f'<span class="badge v-{esc(verdict)}">{esc(verdict)}</span>'


def swatch(colour: str, label: str, count: int | None = None) -> str:
    """One legend entry: a colour chip and its meaning (and how many, when counted)."""
    n = f" <b>{count}</b>" if count is not None else ""
    return (f'<span class="lgitem"><span class="lg" style="background:{esc(colour)}"></span>'
            f"{esc(label)}{n}</span>")


def paged_table(table_id: str, head: list[str], rows: list[str], *, sortable: bool = True,
                page_size: int = PAGE_SIZE) -> str:
    """A table whose rows are paged by the report's script when there are more than a page.

    ``head`` are the header cells' inner HTML, ``rows`` whole ``<tr>`` elements.
    """
    classes = "grid" + (" sortable" if sortable else "")
    paged = len(rows) > page_size
    attrs = f' data-page-size="{page_size}"' if paged else ""
    if paged:
        classes += " paged"
    table = (f'<table id="{esc(table_id)}" class="{classes}"{attrs}><thead><tr>'
             + "".join(f"<th>{h}</th>" for h in head)
             + f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')
    if not paged:
        return table
    pager = (f'<div class="pager" data-for="{esc(table_id)}" hidden>'
             '<button type="button" data-step="-1">‹ previous</button>'
             '<span class="pageinfo"></span>'
             '<button type="button" data-step="1">next ›</button></div>')
    return table + pager


def collapsed_tail(rows: list[str], shown: int, what: str) -> tuple[str, str]:
    """The first ``shown`` rows, and the rest inside a ``<details>`` naming how many."""
    head, tail = rows[:shown], rows[shown:]
    if not tail:
        return "".join(head), ""
    return "".join(head), (f'<details class="more"><summary>{len(tail)} more {esc(what)}'
                           f'</summary><table>{"".join(tail)}</table></details>')
