"""Start ``pose-factory`` verbs in a child process, in Blender or in Python with the bpy module.

The panel runs long work (a local render, generating people) in a child so Blender stays
responsive, and ``render --workers`` splits a render over several children. Children run the
``headless/cli.py`` launcher, never ``python -m <module>``: when Blender installs the extension
its package is ``bl_ext.<repository>.pose_factory``, and no fixed module name would import.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import RenderError
from .progress import PROGRESS_LINES_ENV


def headless_script(name: str) -> Path:
    """``headless/<name>.py``: inside the installed extension, or next to the package in a checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "headless" / f"{name}.py", package.parent / "headless" / f"{name}.py"):
        if candidate.is_file():
            return candidate
    raise RenderError(f"headless/{name}.py is missing from {package}; reinstall the extension")


def cli_command(arguments: Sequence[str], blender: str = "", python: str = "") -> list[str]:
    """The command that runs ``pose-factory <arguments>`` in a child process.

    With ``blender`` (a Blender binary): ``blender --background --factory-startup --python-exit-code 1
    --python headless/cli.py -- <arguments>``; otherwise ``<python> headless/cli.py <arguments>``
    (``python`` defaults to this interpreter, which then needs the bpy module for rendering verbs).
    """
    script = str(headless_script("cli"))
    if blender:
        return [blender, "--background", "--factory-startup", "--python-exit-code", "1", "--python", script, "--", *arguments]
    return [python or sys.executable, script, *arguments]


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child whose progress the parent reads: progress as lines (:mod:`.progress`)."""
    environment = dict(os.environ if base is None else base)
    environment[PROGRESS_LINES_ENV] = "1"
    environment.setdefault("PYTHONUNBUFFERED", "1")
    return environment
