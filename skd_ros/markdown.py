"""Markdown tables: the one writer every report, benchmark and document table goes through."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> str:
    """A GitHub Markdown table of `rows` under `header`, one line per row.

    `align` has one letter per column: `l` left, `r` right (numbers), `c` centred; empty:
    the first column left and the others right, the way the project's tables read.
    Cells are written with `str`; a `|` inside a cell is escaped so it cannot split it.
    """
    letters = align or "l" + "r" * (len(header) - 1)
    if len(letters) != len(header):
        raise ValueError(f"align={align!r} has {len(letters)} letters for {len(header)} columns")
    rule = {"l": "---", "r": "---:", "c": ":---:"}
    lines = [_row(header), "|" + "|".join(rule[letter] for letter in letters) + "|"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells for {len(header)} columns")
        lines.append(_row(row))
    return "\n".join(lines)


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"
