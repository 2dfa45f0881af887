"""The README's two commands: set up (or reuse) the environment, then run the demo or the tests.

    python3 -m skd_ros.bootstrap demo [demo options]     # the main job (skd_ros.demo_node)
    python3 -m skd_ros.bootstrap test [pytest options]   # ruff, then the whole test suite
    python3 -m skd_ros.bootstrap setup                   # only create / update the environment
    python3 -m skd_ros.bootstrap lock                    # re-pin config/requirements.txt

Run from the repository root with the system Python (3.10+, with `venv`). Standard library
only (skd_ros.ros.environment too), because it runs before anything is installed. The
environment is `.venv` (or `$SKD_VENV`); it gets everything pinned in
`config/requirements.txt` plus skd_ros itself (editable), and is reinstalled only when the
lock file or setup.py changes.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from skd_ros.atomic_write import write_text  # standard library only
from skd_ros.ros.environment import shared_memory_warning  # standard library only too

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "config" / "requirements.txt"
DIRECT = ROOT / "config" / "requirements.in"
STAMP = ".skd_ros-lock.sha256"


def environment() -> Path:
    """The virtual environment's folder."""
    return Path(os.environ.get("SKD_VENV", ROOT / ".venv"))


def setup() -> Path:
    """Create or update the environment; returns its Python."""
    folder = environment()
    python = folder / "bin" / "python"
    if not python.exists():
        print(f"[setup] creating virtual environment {folder}", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(folder)
        except (OSError, subprocess.CalledProcessError) as error:
            sys.exit(
                f"[setup] could not create a venv ({error}): install python3-venv "
                "(Debian/Ubuntu: apt-get install python3-venv) and run again"
            )
    wanted = _lock_digest()
    stamp = folder / STAMP
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        print("[setup] installing pinned dependencies (first run takes about a minute)", flush=True)
        _pip(python, "install", "-q", "--upgrade", "pip")
        _pip(python, "install", "-q", "-r", str(LOCK))
        _pip(python, "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(ROOT))
        write_text(stamp, wanted + "\n")
    print(f"[setup] environment ready: {folder}", flush=True)
    return python


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for path in (LOCK, ROOT / "setup.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", *args], check=True)


def demo(args: list[str]) -> None:
    """Set up, then replace this process with the demo (skd_ros.demo_node)."""
    python = setup()
    os.execv(python, [str(python), "-m", "skd_ros.demo_node", *args])


def test(args: list[str]) -> None:
    """Set up, lint (ruff check and format check), then replace this process with pytest."""
    python = setup()
    bin_dir = python.parent
    os.chdir(ROOT)
    for check in (["check"], ["format", "--check"]):
        subprocess.run([str(bin_dir / "ruff"), *check, "skd_ros", "test"], check=True)
    if (shortage := shared_memory_warning(processes=8)) is not None:  # the tests start ROS
        print(f"warning: {shortage}", file=sys.stderr)  # processes; short, they crawl
    os.execv(python, [str(python), "-m", "pytest", *args])


def lock() -> None:
    """Re-resolve config/requirements.in into the pinned config/requirements.txt."""
    with tempfile.TemporaryDirectory() as scratch:
        python = Path(scratch) / "bin" / "python"
        venv.EnvBuilder(with_pip=True).create(scratch)
        _pip(python, "install", "-q", "--upgrade", "pip")
        _pip(python, "install", "-q", "-r", str(DIRECT))
        frozen = subprocess.run(
            [str(python), "-m", "pip", "freeze"], check=True, capture_output=True, text=True
        ).stdout
    header = "# Pinned by `python3 -m skd_ros.bootstrap lock` from config/requirements.in; "
    lines = [header + "do not edit by hand.", *pinned_lines(frozen)]
    write_text(LOCK, "\n".join(lines) + "\n")
    print(f"wrote {LOCK}")


def pinned_lines(frozen: str) -> list[str]:
    """`pip freeze` output as lock lines: torch without its +cpu tag, and without the bare
    names the ROS wheels also register (rclpy, std_msgs...), which PyPI does not serve."""
    lines = [
        re.sub(r"^torch==(.*)\+cpu$", r"torch==\1", line.strip()) for line in frozen.split("\n")
    ]
    lines = [line for line in lines if line and not line.startswith("#")]
    names = {_name(line) for line in lines}
    kept = [
        line
        for line in lines
        if _name(line).startswith("ros-") or f"ros-{_name(line)}" not in names
    ]
    return sorted(kept, key=str.lower)


def _name(line: str) -> str:
    return line.split("==")[0].lower().replace("_", "-")


COMMANDS = {"demo": demo, "test": test}


def main(argv: list[str] | None = None) -> None:
    """`python3 -m skd_ros.bootstrap demo|test|setup|lock [options]`."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in (*COMMANDS, "setup", "lock"):
        sys.exit(__doc__)
    command, rest = argv[0], argv[1:]
    if command == "setup":
        setup()
    elif command == "lock":
        lock()
    else:
        COMMANDS[command](rest)


if __name__ == "__main__":
    main()
