"""Quote a value from a file or the command line in a message, at a bounded size and cost.

A value read from a config, a model description or a parameter can be anything: a string
of megabytes, a list nested a thousand deep, or (through YAML aliases) a structure whose
full repr has billions of leaves. `shown` looks at a bounded part of it only (reprlib:
a few items per container, a few levels deep) and cuts the result to `limit` characters.
"""

from __future__ import annotations

import reprlib

SHOWN_CHARACTERS = 80


def _make_repr() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxlevel = 3
    short.maxlist = short.maxtuple = short.maxset = short.maxfrozenset = 6
    short.maxdict = 6
    short.maxstring = short.maxother = SHOWN_CHARACTERS
    short.maxlong = 40
    return short


_SHORT = _make_repr()


def shown(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """repr(value) for a message: at most `limit` characters, '...' marking a cut."""
    try:
        text = _SHORT.repr(value)
    except (RecursionError, ValueError):  # ValueError: an int of more than 4300 digits
        text = f"<{type(value).__name__} too large to show>"
    return cut(text, limit)


def cut(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """`text` itself (not its repr) at most `limit` characters long, '...' marking a cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
