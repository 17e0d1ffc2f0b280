"""Every option of every command says what it does, and what it defaults to."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from lattice_client import _cli, _curl
from lattice_client.aws_lambda import layer
from lattice_client.testing import _cli as local_cli

PARSERS = {
    "lattice-client": _cli._parser,
    "lattice-curl": _curl._parser,
    "lattice-lambda-layer": layer._parser,
    "lattice-local": local_cli._parser,
}
# Defaults that need no saying: off flags, empty repeatables, nothing.
UNSAID_DEFAULTS: list[object] = [None, False, [], argparse.SUPPRESS]


def _actions(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield parser.prog, action
            for sub in action.choices.values():
                yield from _actions(sub)
        else:
            yield parser.prog, action


OPTIONS = [
    pytest.param(prog, action, id=f"{command}:{'/'.join(action.option_strings) or action.dest}")
    for command, make in PARSERS.items()
    for prog, action in _actions(make())
]


@pytest.mark.parametrize(("prog", "action"), OPTIONS)
def test_each_option_has_help(prog: str, action: argparse.Action) -> None:
    assert action.help, f"{prog} {action.option_strings or action.dest} has no help"
    text = action.help.strip()
    # A sentence that ends on a preposition dangles ("give up connecting after").
    assert text.split()[-1].lower() not in {"after", "before", "for", "to", "with", "of"}


@pytest.mark.parametrize(("prog", "action"), OPTIONS)
def test_each_default_is_shown(prog: str, action: argparse.Action) -> None:
    if action.default in UNSAID_DEFAULTS or action.option_strings in (["-h", "--help"],):
        return
    assert action.help is not None
    assert "default" in action.help, f"{prog} {action.option_strings} hides its default"


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_help_prints(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        PARSERS[command]().parse_args(["--help"])
    assert exit_.value.code == 0
    assert "--help" in capsys.readouterr().out
