"""The benchmark's Markdown: one table per section, the targets, and the machine."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable

Column = tuple[str, str, Callable[[object], str]]


def fmt(spec: str) -> Callable[[object], str]:
    """A cell formatter with a format spec; None (not measured) prints as an en dash."""
    return lambda value: "–" if value is None else format(value, spec)


TEXT = fmt("")


def table(rows: list[dict], columns: list[Column]) -> str:
    """Markdown table of `rows`; numeric-looking columns are right-aligned."""
    header = "| " + " | ".join(title for _, title, _ in columns) + " |"
    align = "|" + "|".join("---" if f is TEXT else "---:" for _, _, f in columns) + "|"
    body = ["| " + " | ".join(f(row.get(key)) for key, _, f in columns) + " |" for row in rows]
    return "\n".join([header, align, *body])


def machine() -> dict:
    """What this ran on: CPU model, cores usable, Python and library versions."""
    import onnxruntime
    import torch

    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if "model name" in line]
        model = names[0] if names else model
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def machine_line(results: dict) -> str:
    """One line: CPU, cores, versions, repeats and wall time."""
    m = results["machine"]
    return (
        f"{m['cpu']}, {m['cores']} cores usable; Python {m['python']}, torch {m['torch']}, "
        f"onnxruntime {m['onnxruntime']}; {results['repeats']} timed runs per figure"
        + (f"; whole run {results['wall_seconds']} s" if "wall_seconds" in results else "")
    )


def target_lines(targets: list[dict]) -> str:
    """Bullet list: each target, its measured value and whether it is met."""
    lines = []
    for t in targets:
        verdict = "met" if t["met"] else "**not met**"
        lines.append(f"- {t['target']}: {t['measured']} ({verdict})")
    return "\n".join(lines)
