"""Argument types for the command-line tools: a bad number is refused by argparse with the
option's name and what it must be, instead of failing later inside a measurement."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """An integer >= 1 (repeats, frames, threads, node counts, pixel sizes)."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An integer >= 0 (counts where none is a choice, e.g. validation videos)."""
    return _int_at_least(text, 0)


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} must be an integer >= {minimum}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (rates in Hz, durations in seconds)."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite number > 0")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (waits and lingers in seconds, where 0 means none)."""
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite number >= 0")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number")
    return value


def add_size_option(
    parser: argparse.ArgumentParser, default: tuple[int, int], what: str = "frame size"
) -> None:
    """The one `--size W H` option of every tool: two positive integers, width first."""
    parser.add_argument(
        "--size",
        type=positive_int,
        nargs=2,
        default=list(default),
        metavar=("W", "H"),
        help=f"{what} in pixels, width then height (default {default[0]} {default[1]})",
    )


def fraction(text: str) -> float:
    """A number in [0, 1] (a share of a clip's frames)."""
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} must be a fraction in [0, 1]")
    return value


def add_part_option(parser: argparse.ArgumentParser, what: str) -> None:
    """The one `--part START END` option (fractions of a clip's frames; default 0 1)."""
    parser.add_argument(
        "--part",
        type=fraction,
        nargs=2,
        default=[0.0, 1.0],
        metavar=("START", "END"),
        help=f"{what}; default 0 1",
    )
