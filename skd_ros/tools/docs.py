"""Rewrite the generated parts of the documents: `python -m skd_ros.tools.docs`.

Today one part: the node's parameter table in `docs/node.md`, generated from the
parameter specs (`skd_ros.ros.params.SPECS`), between its two marker comments. Run it from
the repository root after changing a parameter; `test/test_docs.py` fails until it is run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from skd_ros.atomic_write import write_text
from skd_ros.ros.params import markdown_table

NODE_DOC = Path("docs/node.md")
BEGIN = "<!-- parameters: generated from skd_ros/ros/params.py SPECS; regenerate, do not edit -->"
END = "<!-- end of parameters -->"


def with_parameter_table(text: str) -> str:
    """`text` (docs/node.md) with the block between the markers replaced by the table."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"{NODE_DOC} lacks the marker lines {BEGIN!r} and {END!r}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{markdown_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Rewrite docs/node.md's parameter table in place; say whether it changed."""
    del argv
    if not NODE_DOC.is_file():
        print(f"no {NODE_DOC} here: run from the repository root", file=sys.stderr)
        return 2
    before = NODE_DOC.read_text()
    after = with_parameter_table(before)
    if after != before:
        write_text(NODE_DOC, after)
    print(f"{NODE_DOC}: parameter table {'rewritten' if after != before else 'already current'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
