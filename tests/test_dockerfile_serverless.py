"""headless/Dockerfile.serverless (Docker cannot build here): pinned versions, non-root, and the worker as its command."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "headless" / "Dockerfile.serverless"


def _instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = project["project"]["optional-dependencies"]
    pins = {}
    for requirement in [*extras["blender"], *extras["serverless"]]:
        name, _, version = requirement.partition("==")
        pins[name] = version
    return pins


def test_base_image_and_packages_are_pinned_like_pyproject() -> None:
    instructions = _instructions()
    (base,) = [arguments for name, arguments in instructions if name == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), "Python 3.11 (the bpy 4.5 module's), an exact patch release"
    installs = " ".join(arguments for name, arguments in instructions if name == "RUN" and "pip install" in arguments)
    for name, version in _pins().items():
        assert f"{name}=={version}" in installs, f"{name} must be pinned to {version} as in pyproject.toml"


def test_runs_the_serverless_handler_as_a_non_root_user() -> None:
    instructions = _instructions()
    users = [arguments for name, arguments in instructions if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    commands = [arguments for name, arguments in instructions if name in ("CMD", "ENTRYPOINT")]
    assert len(commands) == 1
    command = json.loads(commands[0])
    assert command[0] == "python" and command[-1] == "headless/serverless_handler.py"
    workdir = [arguments for name, arguments in instructions if name == "WORKDIR"][-1]
    copied = [arguments.split() for name, arguments in instructions if name == "COPY"]
    assert ["headless", "./headless"] in copied and ["pose_factory_addon", "./pose_factory_addon"] in copied
    assert (ROOT / command[-1]).is_file() and workdir.startswith("/home/")


def test_no_secret_is_baked_into_the_image() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "RUNPOD_API_KEY", "STABILITY_API_KEY"):
        assert not re.search(rf"^\s*(ENV|ARG)\b.*\b{name}\b", text, re.MULTILINE), name
