"""Find the Pose Factory package for the headless launchers, in a checkout or an installed extension.

Checkout: ``<repo>/headless/*.py`` next to ``<repo>/pose_factory_addon/``; the dependencies Blender
does not bundle come from the running Python (a venv with the bpy module) or from
``<repo>/build/blender-site/pythonX.Y``, which ``make wheels`` fills for Blender's own Python.
Installed extension: ``<extensions>/<repository>/pose_factory/headless/*.py``, where the package is
the launcher's parent folder and Blender keeps the extension's wheels in
``<extensions>/.local/lib/pythonX.Y/site-packages``. A background Blender started with
``--factory-startup`` loads neither, so the launcher adds both. When a dependency is still missing
the launcher stops with one line naming it and the command that installs it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

# Modules the agent and the CLI import, with the package that provides each (Blender bundles numpy and requests).
REQUIRED_MODULES = {"boto3": "boto3", "yaml": "PyYAML", "PIL": "Pillow", "numpy": "numpy", "requests": "requests"}


def _python_tag() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def missing_packages() -> list[str]:
    """The packages of :data:`REQUIRED_MODULES` this Python cannot import."""
    return [package for module, package in REQUIRED_MODULES.items() if importlib.util.find_spec(module) is None]


def _require_packages(launcher: str, fix: str) -> None:
    missing = missing_packages()
    if missing:
        raise SystemExit(
            f"{Path(launcher).name}: {', '.join(missing)} missing from this Python ({sys.executable}, "
            f"{sys.version_info.major}.{sys.version_info.minor}); {fix}"
        )


def load_package(launcher: str) -> ModuleType:
    """Import the Pose Factory package that ships ``launcher`` and return it."""
    package_parent = Path(launcher).resolve().parents[1]
    if (package_parent / "pose_factory_addon" / "__init__.py").is_file():
        site = package_parent / "build" / "blender-site" / _python_tag()
        if site.is_dir():
            sys.path.append(str(site))  # after the interpreter's own packages, which win
        _require_packages(launcher, f"run `make wheels` in {package_parent} (installs them into build/blender-site)")
        sys.path.insert(0, str(package_parent))
        return importlib.import_module("pose_factory_addon")
    if (package_parent / "blender_manifest.toml").is_file():
        wheels = package_parent.parents[1] / ".local" / "lib" / _python_tag() / "site-packages"
        if wheels.is_dir():
            sys.path.append(str(wheels))
        _require_packages(launcher, "reinstall the extension (its wheels provide them)")
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
