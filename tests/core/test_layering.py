"""The import direction: core never reaches Blender, and importing the package has no side effects."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pose_factory_addon"
BLENDER_MODULES = {"bpy", "mathutils", "bmesh", "bpy_extras", "gpu", "addon_utils", "bl_ui", "aud"}
BLENDER_LAYERS = {"render", "ui"}
HEAVY_MODULES = {"boto3", "botocore", "requests"}


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, level, at module level) for every import statement in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level and not module:
                found += [(alias.name, node.level, id(node) in top_level) for alias in node.names]
            else:
                found.append((module, node.level, id(node) in top_level))
    return found


def test_core_never_imports_blender_or_blender_layers() -> None:
    offenders = []
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        for module, level, _ in _imports(path):
            root = module.split(".")[0]
            if root in BLENDER_MODULES:
                offenders.append(f"{path.name}: {module}")
            if level >= 2 and root in BLENDER_LAYERS:
                offenders.append(f"{path.name}: {'.' * level}{module}")
            if module.startswith("pose_factory_addon") and set(module.split(".")) & BLENDER_LAYERS:
                offenders.append(f"{path.name}: {module}")
    assert not offenders, offenders


def test_the_blender_ui_never_imports_the_command_line() -> None:
    """``ui`` uses ``core`` (and ``render`` where it needs bpy); what it shares with the CLI lives there, not in ``commands``."""
    offenders = [
        f"{path.name}: {'.' * level}{module}"
        for path in sorted((PACKAGE / "ui").rglob("*.py"))
        for module, level, _ in _imports(path)
        if module.split(".")[0] in ("commands", "cli") or "commands" in module.split(".") or module.endswith(".cli")
    ]
    assert not offenders, offenders


def test_core_has_no_heavy_imports_at_module_level() -> None:
    offenders = [
        f"{path.name}: {module}"
        for path in sorted((PACKAGE / "core").rglob("*.py"))
        for module, _, top in _imports(path)
        if top and module.split(".")[0] in HEAVY_MODULES
    ]
    assert not offenders, offenders


def test_package_imports_are_relative() -> None:
    """Blender installs the extension as ``bl_ext.<repo>.pose_factory``: absolute imports would break."""
    offenders = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for module, level, _ in _imports(path)
        if level == 0 and module.split(".")[0] == "pose_factory_addon"
    ]
    assert not offenders, offenders


def test_importing_core_with_bpy_blocked() -> None:
    code = (
        "import sys; sys.modules['bpy'] = None; sys.modules['mathutils'] = None\n"
        "import pose_factory_addon, pose_factory_addon.cli\n"
        "import pose_factory_addon.core.config, pose_factory_addon.core.security\n"
        "import pose_factory_addon.core.manifest, pose_factory_addon.core.skeletons\n"
        "import pkgutil, importlib\n"
        "for info in pkgutil.iter_modules(pose_factory_addon.core.__path__):\n"
        "    importlib.import_module('pose_factory_addon.core.' + info.name)\n"
        "heavy = sorted(m for m in ('boto3', 'botocore', 'requests', 'bpy') if sys.modules.get(m) is not None)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
