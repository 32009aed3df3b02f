"""docs/operations.md against the code: every `pose-factory` command it shows parses, every event it names is logged
somewhere, every variable of the RunPod template is read by the code, and the make target exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pose_factory_addon.cli import build_parser
from pose_factory_addon.core.config import describe_settings
from pose_factory_addon.core.security import SECRET_ENV_NAMES

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
PLACEHOLDERS = {
    r"<template id>": "tmpl123",
    r"\bJOB_ID\b": "render_20260108_142501_1a2b3c4d",
    r"\[ID \\\| --pod ID\]": "",
    r"samples/characters/\*\.fbx": "x.fbx",
}


def _commands() -> list[str]:
    """``pose-factory ...`` from code blocks (one per line, comments cut) and inline code spans."""
    found = []
    for block in re.findall(r"```(?:bash)?\n(.*?)```", DOC, re.DOTALL):
        for line in block.splitlines():
            text = line.split("#")[0].strip()
            if text.startswith("pose-factory "):
                found.append(text)
    for span in re.findall(r"`(pose-factory [^`]+)`", DOC):
        found.append(span)
    return found


def _normalise(command: str) -> str | None:
    for pattern, value in PLACEHOLDERS.items():
        command = re.sub(pattern, value, command)
    if "|" in command or "[" in command or "..." in command or "…" in command:
        return None  # a synopsis with alternatives, not a runnable command
    if len(command.split()) < 3 and command.split()[-1] not in ("status",):
        return None  # a verb named in prose ("`pose-factory pods` needs ..."), not a command
    return command


@pytest.mark.parametrize("command", sorted(set(_commands())))
def test_documented_command_parses(command: str) -> None:
    runnable = _normalise(command)
    if runnable is None:
        pytest.skip("synopsis")
    arguments = shlex.split(runnable)[1:]
    try:
        build_parser().parse_args(arguments)
    except SystemExit as error:
        pytest.fail(f"`{command}` does not parse (exit {error.code})")


def test_there_are_commands_to_check() -> None:
    assert len({_normalise(command) for command in _commands()} - {None}) >= 10


def test_documented_events_are_logged() -> None:
    sources = "".join(
        (REPO / path).read_text()
        for path in ("pose_factory_addon/agent.py", "headless/pod_entrypoint.sh", "pose_factory_addon/core/store.py")
    )  # the store names the event of its retries (store_retrying), which the agent logs
    logs = DOC[DOC.index("**Logs.**") : DOC.index("**Activity records.**")]
    troubleshooting = DOC[DOC.index("#### Troubleshooting") : DOC.index("### Setting up a pod without the image")]
    names = set(re.findall(r"`([a-z]+_[a-z_]+)`", logs + troubleshooting)) - {"job_id", "restart_in_s", "taken_over_from"}
    assert "pod_stop_requested" in names and "entrypoint_refused" in names
    missing = [name for name in sorted(names) if f'"{name}"' not in sources and f"event {name}" not in sources]
    assert not missing, missing


def test_template_variables_are_read_by_the_code() -> None:
    table = DOC[DOC.index("| Variable | Value |") : DOC.index("RunPod itself sets")]
    variables = set(re.findall(r"^\| `([A-Z_]+)` \|", table, re.MULTILINE))
    known = {env for _key, env, _help in describe_settings()} | set(SECRET_ENV_NAMES)
    assert variables and variables <= known, variables - known


def test_make_targets_exist() -> None:
    makefile = (REPO / "Makefile").read_text()
    for target in set(re.findall(r"`make ([a-z-]+)`", DOC)):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
