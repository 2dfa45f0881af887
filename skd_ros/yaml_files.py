"""Read the YAML the project is given (training configs, `--set` values) at a bounded cost.

YAML aliases let a few hundred bytes stand for a structure of billions of nodes (nine
levels of ten references each: a "billion laughs"), which is cheap to load but explodes
when anything walks it (a message, a comparison, a copy). No config of ours needs an alias,
so they are refused with the line where one is used; files are read up to `MAX_YAML_BYTES`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

MAX_YAML_BYTES = 1 << 20  # 1 MiB: config/train.yaml is 3 KB


class _NoAliasLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses aliases (`*name`) instead of sharing the anchored node."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"found the alias *{event.anchor[:40]}: YAML aliases are not accepted here "
                "(write the value out in full)",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def parse_yaml(text: str) -> object:
    """`text` as YAML (safe types only, no aliases); raises yaml.YAMLError saying where."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise yaml.YAMLError("the document is nested too deep") from None


def read_yaml(path: Path, what: str = "YAML file") -> object:
    """The YAML document in `path`, read up to MAX_YAML_BYTES; ValueError names the file."""
    path = Path(path)
    with open(path, "rb") as handle:
        data = handle.read(MAX_YAML_BYTES + 1)
    if len(data) > MAX_YAML_BYTES:
        raise ValueError(
            f"{path} is larger than {MAX_YAML_BYTES >> 20} MiB: too large for a {what}"
        )
    try:
        return parse_yaml(data.decode())
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file: expected a {what}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML: {error}") from None
