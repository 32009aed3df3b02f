"""docs/user-guide.md against the real parser: a section for every verb, every command it shows parses, and every
option it names in a verb's section is an option of that verb."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from pose_factory_addon.cli import COMMAND_MODULES, build_parser

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "user-guide.md").read_text(encoding="utf-8")
PARSER = build_parser()
OPTION = r"(?<![\w-])--[a-z][a-z-]*[a-z](?![\w-])"  # `--enhance-...` names a family, not the option --enhance
# Placeholders the guide writes in capitals, and a value each parses with.
PLACEHOLDERS = {
    "JOB_ID": "render_20260108_142501_1a2b3c4d",
    "DATASET": "datasets/run1",
    "DIR": "out",
    "N": "10",
    "TEXT": "text",
    "USD": "5",
    "FILE": "settings.yaml",
    "ID": "abc123def",
}


def _commands() -> list[str]:
    """``pose-factory ...`` from code blocks (``$ `` prompts and comments cut) and inline code spans."""
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", DOC, re.DOTALL):
        for line in block.splitlines():
            text = line.split(" #")[0].strip().removeprefix("$ ")
            if text.startswith("pose-factory "):
                found.append(text)
    found += re.findall(r"`(pose-factory [^`]+)`", DOC)
    return found


def _runnable(command: str) -> list[str] | None:
    """The arguments of ``command`` with placeholders filled in, or ``None`` for a synopsis, a verb named in prose, or
    a message the CLI prints (``pose-factory render: error: ...``)."""
    words = command.split()
    if any(mark in command for mark in ("|", "[", "...", "…", "ACTION")) or len(words) < 3 or words[1].endswith(":"):
        return None
    return [PLACEHOLDERS.get(word, word) for word in shlex.split(command)[1:]]


def _options(parser: argparse.ArgumentParser) -> Iterator[str]:
    """Every option string of ``parser`` and of the parsers below it (a verb's actions)."""
    for action in parser._actions:
        yield from action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _options(sub)


def _verb_sections() -> dict[str, str]:
    """``{verb: text}`` of each ``### ... `pose-factory VERB ...` `` section, up to the next heading."""
    sections: dict[str, str] = {}
    for heading, body in re.findall(r"^###[^\n]*?`pose-factory ([a-z]+)[^\n]*\n(.*?)(?=^#)", DOC, re.DOTALL | re.MULTILINE):
        sections[heading] = sections.get(heading, "") + body
    return sections


def test_every_verb_has_a_section() -> None:
    assert sorted(set(COMMAND_MODULES) - set(_verb_sections())) == []


@pytest.mark.parametrize("command", sorted(set(_commands())))
def test_documented_command_parses(command: str) -> None:
    arguments = _runnable(command)
    if arguments is None:
        pytest.skip("synopsis")
    try:
        PARSER.parse_args(arguments)
    except SystemExit as error:
        pytest.fail(f"`{command}` does not parse (exit {error.code})")


def test_there_are_commands_to_check() -> None:
    runnable = {" ".join(arguments) for command in _commands() if (arguments := _runnable(command)) is not None}
    assert len(runnable) >= 15
    assert {arguments.split()[0] for arguments in runnable} >= {"render", "submit", "cost", "config", "samples", "motions"}


@pytest.mark.parametrize("verb", sorted(_verb_sections()))
def test_options_named_in_a_verb_section_belong_to_that_verb(verb: str) -> None:
    """Options in prose, in spans and in commands of the verb are checked; a code span or a command line that starts
    with something else (`render --passes mask`, `blender --background ...`) is about that other thing."""
    known = set(_options(_verb_parser(verb)))
    text = _verb_sections()[verb]
    pieces = re.findall(r"`([^`]+)`", text) + [
        line for block in re.findall(r"```\n(.*?)```", text, re.DOTALL) for line in block.splitlines()
    ]
    foreign = {
        option
        for piece in pieces
        if (words := piece.removeprefix("$ ").removeprefix("pose-factory ").split())
        and not words[0].startswith("--")
        and words[0] != verb
        for option in re.findall(OPTION, piece)
    }
    unknown = sorted(set(re.findall(OPTION, text)) - known - foreign)
    assert not unknown, f"{verb}: {unknown}"


def _verb_parser(verb: str) -> argparse.ArgumentParser:
    [subparsers] = [action for action in PARSER._actions if isinstance(action, argparse._SubParsersAction)]
    parser: argparse.ArgumentParser = subparsers.choices[verb]
    return parser
