"""The README's two commands: set up (or reuse) the environment, then run the demo or the tests.

    python3 -m skd_ros.bootstrap demo [demo options]     # the main job (skd_ros.demo_node)
    python3 -m skd_ros.bootstrap test [pytest options]   # ruff, the whole suite on Kilted,
                                                         # then the ROS tests on Jazzy
    python3 -m skd_ros.bootstrap setup                   # only create / update the environment
    python3 -m skd_ros.bootstrap lock                    # re-pin config/requirements*.txt

Each command takes `--distro kilted|jazzy` (default kilted; `test` without it runs both).
Run from the repository root with the system Python (3.10+, with `venv`). Standard library
only (skd_ros.ros.environment too), because it runs before anything is installed. Each ROS 2
distribution has its own environment and lock file: Kilted `.venv` (or `$SKD_VENV`) from
`config/requirements.txt`, Jazzy `.venv-jazzy` (or `$SKD_VENV-jazzy`) from
`config/requirements-jazzy.txt`. An environment gets everything pinned in its lock file plus
skd_ros itself (editable), and is reinstalled only when the lock file or setup.py changes.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass
from pathlib import Path

from skd_ros.atomic_write import write_text  # standard library only
from skd_ros.ros.environment import shared_memory_warning  # standard library only too

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".skd_ros-lock.sha256"
NO_TESTS_COLLECTED = 5  # pytest's exit code


@dataclass(frozen=True)
class Distro:
    """A ROS 2 distribution the project is set up and tested on."""

    name: str
    suffix: str  # of its lock files and environment folder
    marker: str | None  # the pytest marker of the tests run on it; None: the whole suite

    @property
    def direct(self) -> Path:
        return ROOT / "config" / f"requirements{self.suffix}.in"

    @property
    def lock(self) -> Path:
        return ROOT / "config" / f"requirements{self.suffix}.txt"

    def environment(self) -> Path:
        """The virtual environment's folder: `.venv<suffix>`, or `$SKD_VENV<suffix>`."""
        base = Path(os.environ.get("SKD_VENV", ROOT / ".venv"))
        return base.with_name(base.name + self.suffix)


DISTROS = {
    "kilted": Distro("kilted", "", None),
    "jazzy": Distro("jazzy", "-jazzy", "ros"),
}
DEFAULT = DISTROS["kilted"]


def setup(distro: Distro = DEFAULT) -> Path:
    """Create or update `distro`'s environment; returns its Python."""
    folder = distro.environment()
    python = folder / "bin" / "python"
    if not python.exists():
        print(f"[setup] creating virtual environment {folder} ({distro.name})", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(folder)
        except (OSError, subprocess.CalledProcessError) as error:
            sys.exit(
                f"[setup] could not create a venv ({error}): install python3-venv "
                "(Debian/Ubuntu: apt-get install python3-venv) and run again"
            )
    wanted = _lock_digest(distro)
    stamp = folder / STAMP
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        print("[setup] installing pinned dependencies (first run takes about a minute)", flush=True)
        _pip(python, "install", "-q", "--upgrade", "pip")
        _pip(python, "install", "-q", "-r", str(distro.lock))
        _pip(python, "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(ROOT))
        write_text(stamp, wanted + "\n")
    print(f"[setup] environment ready: {folder} ({distro.name})", flush=True)
    return python


def _lock_digest(distro: Distro) -> str:
    digest = hashlib.sha256()
    for path in (distro.lock, ROOT / "setup.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", *args], check=True)


def demo(args: list[str]) -> None:
    """Set up, then replace this process with the demo (skd_ros.demo_node)."""
    distro, rest = distro_option(args)
    python = setup(distro or DEFAULT)
    os.execv(python, [str(python), "-m", "skd_ros.demo_node", *rest])


def test(args: list[str]) -> None:
    """Set up, lint (ruff check and format check), then run pytest: on `--distro` alone, else
    the whole suite on Kilted and then the ROS tests on Jazzy, each in its environment."""
    distro, rest = distro_option(args)
    distros = [distro] if distro is not None else list(DISTROS.values())
    os.chdir(ROOT)
    if (shortage := shared_memory_warning(processes=8)) is not None:  # the tests start ROS
        print(f"warning: {shortage}", file=sys.stderr)  # processes; short, they crawl
    failed, said = [], []
    for index, each in enumerate(distros):
        python = setup(each)
        if index == 0:
            _lint(python.parent)
        print(f"[test] {each.name}: {_scope(each)}", flush=True)
        try:
            code = subprocess.run([str(python), "-m", "pytest", *with_marker(rest, each.marker)])
        except KeyboardInterrupt:  # pytest got the Ctrl-C too, and has said where it stopped
            sys.exit(130)
        ok = passed(code.returncode, each, rest)
        failed += [] if ok else [code.returncode]
        said.append(f"{each.name}: {'passed' if ok else f'exit {code.returncode}'}")
    if len(said) > 1:
        print("[test] " + "; ".join(said))
    sys.exit(failed[0] if failed else 0)


def _lint(bin_dir: Path) -> None:
    for check in (["check"], ["format", "--check"]):
        subprocess.run([str(bin_dir / "ruff"), *check, "skd_ros", "test"], check=True)


def _scope(distro: Distro) -> str:
    return "all tests" if distro.marker is None else f"the tests marked `{distro.marker}`"


def distro_option(args: list[str]) -> tuple[Distro | None, list[str]]:
    """`--distro NAME` (or `--distro=NAME`) taken out of `args`: the Distro and the rest."""
    rest, name = [], None
    items = iter(args)
    for arg in items:
        if arg == "--distro":
            name = next(items, "")
        elif arg.startswith("--distro="):
            name = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if name is None:
        return None, rest
    if name not in DISTROS:
        sys.exit(f"--distro {name!r}: choose one of {', '.join(DISTROS)}")
    return DISTROS[name], rest


def with_marker(args: list[str], marker: str | None) -> list[str]:
    """pytest `args` that also select `marker`, combined with the user's own `-m` if any."""
    if marker is None:
        return list(args)
    rest, expressions = [], []
    items = iter(args)
    for arg in items:
        if arg == "-m":
            expressions.append(next(items, ""))
        elif arg.startswith("-m") and not arg.startswith("--"):
            expressions.append(arg[2:])
        else:
            rest.append(arg)
    combined = " and ".join([marker, *(f"({e})" for e in expressions if e)])
    return [*rest, "-m", combined]


def passed(code: int, distro: Distro, args: list[str]) -> bool:
    """Whether a pytest run passed. On a marker's run, "no tests collected" passes when the
    user selected tests (`-k`, `-m`, paths): none of the chosen ones carries the marker."""
    if code == 0:
        return True
    selected = any(not a.startswith("-") or a[:2] in ("-k", "-m") for a in args)
    return code == NO_TESTS_COLLECTED and distro.marker is not None and selected


def lock(distro: Distro = DEFAULT) -> None:
    """Re-resolve `distro`'s requirements .in file into its pinned lock file. Another distro
    keeps the default's versions of every package that is not a ROS wheel, so the two test
    runs differ only in ROS."""
    with tempfile.TemporaryDirectory() as scratch:
        python = Path(scratch) / "bin" / "python"
        venv.EnvBuilder(with_pip=True).create(scratch)
        _pip(python, "install", "-q", "--upgrade", "pip")
        install = ["install", "-q", "-r", str(distro.direct)]
        if distro is not DEFAULT:
            constraints = Path(scratch) / "constraints.txt"
            constraints.write_text("\n".join(non_ros_pins(DEFAULT.lock.read_text())) + "\n")
            install += ["-c", str(constraints)]
        _pip(python, *install)
        frozen = subprocess.run(
            [str(python), "-m", "pip", "freeze"], check=True, capture_output=True, text=True
        ).stdout
    option = "" if distro is DEFAULT else f" --distro {distro.name}"
    header = (
        f"# Pinned by `python3 -m skd_ros.bootstrap lock{option}` from config/{distro.direct.name}"
    )
    lines = [header + "; do not edit by hand.", *pinned_lines(frozen)]
    write_text(distro.lock, "\n".join(lines) + "\n")
    print(f"wrote {distro.lock}")


def non_ros_pins(lock_text: str) -> list[str]:
    """The pins of a lock file that are not ROS wheels (`ros-*`), nor comments."""
    lines = (line.strip() for line in lock_text.split("\n"))
    return [
        line for line in lines if line and line[0] != "#" and not _name(line).startswith("ros-")
    ]


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
    """`python3 -m skd_ros.bootstrap demo|test|setup|lock [--distro NAME] [options]`."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in (*COMMANDS, "setup", "lock"):
        sys.exit(__doc__)
    command, rest = argv[0], argv[1:]
    if command in COMMANDS:
        COMMANDS[command](rest)
        return
    distro, extra = distro_option(rest)
    if extra:
        sys.exit(f"{command}: unexpected arguments {extra} (it takes only --distro NAME)")
    if command == "setup":
        setup(distro or DEFAULT)
    else:  # lock: every distro's lock file unless one is named (they share the common list)
        for each in [distro] if distro is not None else DISTROS.values():
            lock(each)


if __name__ == "__main__":
    main()
