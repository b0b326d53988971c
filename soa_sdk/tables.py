"""A small table that shows itself as HTML in a notebook and as text in a terminal."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any


class Table:
    """Rows of dicts with the same keys. ``_repr_html_`` for Jupyter, ``str`` for terminals."""

    def __init__(self, rows: Sequence[dict[str, Any]], title: str = "") -> None:
        self.rows = [dict(row) for row in rows]
        self.title = title
        self.columns: list[str] = list(self.rows[0]) if self.rows else []

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        return [row.get(name) for row in self.rows]

    def __str__(self) -> str:
        cells = [[str(row.get(c, "")) for c in self.columns] for row in self.rows]
        widths = [
            max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(self.columns)
        ]
        lines = [self.title] if self.title else []
        lines.append("  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        lines += [
            "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in cells
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in self.columns)
            + "</tr>"
            for r in self.rows
        )
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
