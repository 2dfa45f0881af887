"""`bench` / `python -m skd_ros.bench`: every speed and memory figure of skd_ros, one run.

Sections: (1) Sst throughput by framework, resolution, batch and threads; (2) achieved
GFLOP/s against this machine's single-core peak; (3) teachers' cost at 1280x720 against
Sst's, beside their accuracy; (4) memory; (5) scaling with model resolution, camera
resolution and number of nodes; (6) GPU, when there is one. Prints Markdown and writes it
with a JSON copy to --out. Each figure is the median of repeated runs after warm-up, with
the spread (half the range between the fastest and slowest run, in % of the median).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from skd_ros.atomic_write import write_json, write_text
from skd_ros.cli_args import positive_int
from skd_ros.logs import setup_logging

SECTIONS = ("nodes", "speed", "peak", "payoff", "accuracy", "memory", "scaling", "gpu")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/bench"), help="output folder")
    parser.add_argument("--repeats", type=positive_int, default=7, help="timed runs per figure")
    parser.add_argument("--skip", nargs="*", default=[], choices=SECTIONS, help="sections")
    parser.add_argument("--quick", action="store_true", help="3 repeats, 2 s node windows")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the sections, print and write the report."""
    setup_logging()
    from skd_ros.bench import run, summary

    args = parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        results = run.run_sections(
            [s for s in SECTIONS if s not in args.skip], repeats, Path(scratch), args.quick
        )
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    text = summary.markdown(results)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "bench.md", text + "\n")
    write_json(args.out / "bench.json", results, indent=2, default=str)
    print(text)
    print(f"\nwrote {args.out / 'bench.md'} and {args.out / 'bench.json'}")
    return 0
