"""Every command's ``--help`` shows examples, and every example is a command line the CLI
accepts as written; every command takes typed parameters (mypy --strict covers them)."""

from __future__ import annotations

import inspect
import shlex
import typing

import click
import pytest

from amplitude_laptop.cli import cli, main

COMMANDS = sorted(cli.commands)


def examples(help_text: str) -> list[str]:
    lines = [line.strip() for line in help_text.splitlines()]
    start = lines.index("Examples:")
    return [line for line in lines[start + 1 :] if line]


def test_the_cli_has_the_commands_the_readme_names() -> None:
    assert COMMANDS == ["extract", "forget", "load", "run", "status", "transform"]


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_examples_the_cli_accepts(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "--help"]) == 0
    shown = examples(capsys.readouterr().out)
    assert shown, f"`{name} --help` shows no example"
    assert shown[0].startswith(f"amplitude-ingest {name}")
    for line in shown:
        program, command, *arguments = shlex.split(line, comments=True)
        assert program == "amplitude-ingest"
        parent = click.Context(cli, info_name=program)
        target = cli.get_command(parent, command)
        assert target is not None, line
        # Parses and converts every option as a run would, without running it.
        with target.make_context(command, arguments, parent=parent) as context:
            assert context.params


@pytest.mark.parametrize("name", COMMANDS)
def test_commands_take_typed_parameters(name: str) -> None:
    callback = cli.commands[name].callback
    assert callback is not None
    signature = inspect.signature(callback)
    hints = typing.get_type_hints(callback)
    kinds = {p.kind for p in signature.parameters.values()}
    assert kinds == {inspect.Parameter.KEYWORD_ONLY}, "no **options: every flag by name"
    assert set(hints) == {*signature.parameters, "return"}
    assert hints["return"] is int
    # Every click parameter arrives under a name the function declares.
    assert {p.name for p in cli.commands[name].params} == set(signature.parameters)
