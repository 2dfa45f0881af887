"""The documents: the README stays a front door, links resolve, generated tables are current."""

import re
from pathlib import Path

import pytest

from skd_ros.ros.params import markdown_table

# the documents parametrize a test, so they are listed at import, before any fixture exists
_ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [_ROOT / "README.md", *sorted((_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def test_the_readme_is_at_most_300_lines(repo_root):
    assert len((repo_root / "README.md").read_text().splitlines()) <= 300


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_resolves(document):
    targets = [m.group(1) for m in LINK.finditer(document.read_text())]
    local = [t for t in targets if "://" not in t]
    missing = [t for t in local if not (document.parent / t).exists()]
    assert missing == [], f"{document.name} links to missing files: {missing}"


def test_the_node_parameter_table_is_generated_from_the_specs(repo_root):
    text = (repo_root / "docs" / "node.md").read_text()
    block = text.split("<!-- parameters: generated", 1)[1].split("<!-- end of parameters -->")[0]
    table = block.split("-->\n", 1)[1].strip()
    assert table == markdown_table(), "regenerate it: python -m skd_ros.tools.docs"


def test_markdown_tables_align_numbers_right_and_keep_pipes_inside_cells():
    from skd_ros.markdown import table

    text = table(["clip", "NSS"], [["a|b", 1.5]])
    assert text.splitlines() == ["| clip | NSS |", "|---|---:|", "| a\\|b | 1.5 |"]
    with pytest.raises(ValueError, match="1 cells for 2 columns"):
        table(["clip", "NSS"], [["a"]])


def test_a_stale_parameter_table_is_rewritten_from_the_specs(repo_root):
    from skd_ros.tools.docs import with_parameter_table

    text = (repo_root / "docs" / "node.md").read_text()
    stale = text.replace("| `peaks.threshold` | `0.2` |", "| `peaks.threshold` | `0.9` |")
    assert stale != text and with_parameter_table(stale) == text
