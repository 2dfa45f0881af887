"""Style and types are tests too, so `colcon test` checks them as `bootstrap test` does."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # ruff and mypy run as commands, mypy for a while


def _tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install {name})")
    return path


@pytest.mark.parametrize("check", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff(check, repo_root):
    result = subprocess.run(
        [_tool("ruff"), *check, "skd_ros", "test", "launch"],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_core_type_checks(repo_root):
    """mypy on the library-like modules (setup.cfg [mypy] names them)."""
    _tool("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "setup.cfg"],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
