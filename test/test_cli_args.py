"""The command-line tools' shared options refuse bad values with the option's name."""

import argparse

import pytest

from skd_ros.cli_args import add_size_option


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tool", exit_on_error=False)
    add_size_option(parser, (1280, 720))
    return parser


def test_size_defaults_and_reads_width_then_height():
    assert _parser().parse_args([]).size == [1280, 720]
    assert _parser().parse_args(["--size", "640", "360"]).size == [640, 360]


@pytest.mark.parametrize("bad", [["0", "360"], ["640"], ["640", "x"]])
def test_a_bad_size_is_refused_naming_the_option(bad, capsys):
    with pytest.raises((SystemExit, argparse.ArgumentError)) as error:
        _parser().parse_args(["--size", *bad])
    assert "--size" in str(error.value) + capsys.readouterr().err
