"""Find the Pose Factory package for the headless launchers, in a checkout or an installed extension.

Checkout: ``<repo>/headless/*.py`` next to ``<repo>/pose_factory_addon/``. Installed extension:
``<extensions>/<repository>/pose_factory/headless/*.py``, where the package is the launcher's
parent folder and Blender keeps the extension's wheels in ``<extensions>/.local/lib/pythonX.Y/site-packages``.
A background Blender started with ``--factory-startup`` loads neither, so the launcher adds both.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType


def load_package(launcher: str) -> ModuleType:
    """Import the Pose Factory package that ships ``launcher`` and return it."""
    package_parent = Path(launcher).resolve().parents[1]
    if (package_parent / "pose_factory_addon" / "__init__.py").is_file():
        sys.path.insert(0, str(package_parent))
        return importlib.import_module("pose_factory_addon")
    if (package_parent / "blender_manifest.toml").is_file():
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        wheels = package_parent.parents[1] / ".local" / "lib" / version / "site-packages"
        if wheels.is_dir():
            sys.path.append(str(wheels))
        sys.path.insert(0, str(package_parent.parent))
        return importlib.import_module(package_parent.name)
    raise SystemExit(f"{launcher}: the Pose Factory package was not found next to this script")


def script_arguments(argv: list[str]) -> list[str]:
    """The launcher's own arguments: those after ``--`` under Blender, else all but the script name."""
    return argv[argv.index("--") + 1 :] if "--" in argv else argv[1:]


def run_cli(launcher: str, arguments: list[str]) -> int:
    """Run ``pose-factory <arguments>`` from the package that ships ``launcher``; returns its exit status."""
    package = load_package(launcher)
    cli = importlib.import_module(f"{package.__name__}.cli")
    status = int(cli.main(arguments))
    sys.stdout.flush()
    return status
