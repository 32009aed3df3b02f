"""The built zip, installed by Blender's own extension machinery into an isolated user folder, works from a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import SAMPLES

pytestmark = pytest.mark.bpy

PROBE = """
import json, os, sys
import bpy
import addon_utils
module = "bl_ext.user_default.pose_factory"
bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
report = {"enabled": addon_utils.check(module)[1]}
site = os.path.join(os.environ["BLENDER_USER_RESOURCES"], "extensions", ".local", "lib", "python3.11", "site-packages")
report["wheels"] = sorted(name for name in os.listdir(site) if name in ("PIL", "boto3", "botocore", "yaml"))
report["operators"] = sorted(name for name in dir(bpy.ops.posefactory) if not name.startswith("_"))
report["panels"] = sorted(name for name in dir(bpy.types) if name.startswith("POSEFACTORY_PT_"))
report["preferences"] = bpy.context.preferences.addons.get(module) is not None
settings = bpy.context.scene.pose_factory
settings.characters_folder = sys.argv[2]
settings.angles = 2
report["characters"] = [item.name for item in settings.characters]
report["estimate"] = sorted(bpy.ops.posefactory.estimate_cost())
report["submit"] = sorted(bpy.ops.posefactory.submit_job())
report["refresh"] = sorted(bpy.ops.posefactory.refresh_jobs())
runtime = bpy.context.window_manager.pose_factory
report["jobs"] = [(job.name.split("_")[0], job.state) for job in runtime.jobs]
bpy.ops.preferences.addon_disable(module=module)
report["disabled"] = not addon_utils.check(module)[1]
report["leftover"] = sorted(name for name in dir(bpy.types) if name.startswith(("POSEFACTORY_", "PoseFactory")))
report["leftover"] += [name for name in ("Scene", "WindowManager") if hasattr(getattr(bpy.types, name), "pose_factory")]
report["leftover"] += sorted(name for name in dir(bpy.ops.posefactory) if not name.startswith("_"))
print("RESULT " + json.dumps(report))
"""


def _run_probe(probe: str, extension_zip: Path, tmp_path: Path, *arguments: str, **environment: str) -> dict[str, Any]:
    """Run ``probe`` in a fresh Python with the extension zip and a folder holding one sample character; its report."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("POSE_FACTORY_", "RUNPOD_", "AWS_"))}
    env.update(
        BLENDER_USER_RESOURCES=str(tmp_path / "blender-user"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        **environment,
    )
    characters = tmp_path / "characters"
    characters.mkdir()
    (characters / "Mannequin_Slim_Wave.glb").write_bytes((SAMPLES / "Mannequin_Slim_Wave.glb").read_bytes())
    result = subprocess.run(
        [sys.executable, "-c", probe, str(extension_zip), str(characters), *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout[-2000:] + result.stderr[-2000:]
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def test_installed_extension_registers_runs_operators_and_unregisters_cleanly(extension_zip: Path, tmp_path: Path) -> None:
    report = _run_probe(PROBE, extension_zip, tmp_path)
    assert report["enabled"] and report["preferences"]
    assert report["wheels"] == ["PIL", "boto3", "botocore", "yaml"]
    assert {"submit_job", "estimate_cost", "refresh_jobs", "cancel_job", "download_results", "pod_start", "pod_stop"} <= set(
        report["operators"]
    )
    assert {"pod_refresh", "render_local", "open_results_folder", "load_contact_sheet"} <= set(report["operators"])
    assert len(report["panels"]) == 7
    assert report["characters"] == ["Mannequin_Slim_Wave"]
    assert report["estimate"] == report["submit"] == report["refresh"] == ["FINISHED"]
    assert report["jobs"] == [["render", "pending"]]
    assert list((tmp_path / "data" / "pose-factory" / "store" / "jobs" / "pending").glob("render_*.json"))
    assert report["disabled"] and report["leftover"] == []


RENDER_PROBE = """
import json, os, sys
import bpy
import addon_utils
module = "bl_ext.user_default.pose_factory"
bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
settings = bpy.context.scene.pose_factory
settings.characters_folder = sys.argv[2]
settings.angles, settings.preset, settings.resolution, settings.frames = 2, "preview", (64, 64), "1"
settings.local_output_folder = sys.argv[3]
report = {"render": sorted(bpy.ops.posefactory.render_local())}
report["module"] = sys.modules[module].__file__
print("RESULT " + json.dumps(report))
"""

BLOCKER = """
import importlib.abc, sys


class _NoCheckout(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "pose_factory_addon" or name.startswith("pose_factory_addon."):
            raise ImportError("the checkout's pose_factory_addon must not be imported here")
        return None


sys.meta_path.insert(0, _NoCheckout())
"""


def test_render_here_from_the_installed_extension_alone(extension_zip: Path, tmp_path: Path) -> None:
    """'Render Here' starts a child render from the installed extension, with the checkout out of reach:
    neither the working directory nor any import path of the process (or its children) holds it."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    out = tmp_path / "renders"
    report = _run_probe(RENDER_PROBE, extension_zip, tmp_path, str(out), PYTHONPATH=str(blocker))
    assert report["render"] == ["FINISHED"]
    assert str(tmp_path / "blender-user") in report["module"]
    summary = json.loads((out / "dataset" / "dataset.json").read_text())
    assert summary["counts"]["images"] == 2 and summary["failures"] == []
    labels = [json.loads((out / "dataset" / image["label"]).read_text()) for image in summary["images"]]
    assert all(len(label["keypoints"]["coco17"]) == 17 for label in labels)
