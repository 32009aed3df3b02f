"""Registration is symmetric: every class, property, timer and thread goes away on unregister."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from ui_helpers import leftovers

import pose_factory_addon

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy

OPERATORS = {
    "submit_job",
    "estimate_cost",
    "refresh_jobs",
    "cancel_job",
    "download_results",
    "pod_start",
    "pod_stop",
    "pod_refresh",
    "pod_terminate",
    "render_local",
    "open_results_folder",
    "load_contact_sheet",
    "check_labels",
    "enhance_dataset",
    "generate_characters",
    "load_character",
    "scan_characters",
    "cancel_task",
    "report_message",
    "test_store",
    "test_runpod",
}
PANELS = {
    "POSEFACTORY_PT_main",
    "POSEFACTORY_PT_characters",
    "POSEFACTORY_PT_render",
    "POSEFACTORY_PT_cost",
    "POSEFACTORY_PT_jobs",
    "POSEFACTORY_PT_pods",
    "POSEFACTORY_PT_render_here",
}


def _operators() -> set[str]:
    return {name for name in dir(bpy.ops.posefactory) if not name.startswith("_")}


def test_register_unregister_register_leaves_nothing_behind(isolated: Any) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    for _ in range(2):
        pose_factory_addon.register()
        try:
            assert _operators() == OPERATORS
            assert {name for name in dir(bpy.types) if name.startswith("POSEFACTORY_PT_")} >= PANELS
            assert bpy.context.scene.pose_factory.angles == 8
            assert len(bpy.context.window_manager.pose_factory.jobs) == 0
        finally:
            pose_factory_addon.unregister()
        assert leftovers() == []
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("pose-factory-")]


def test_every_operator_is_reachable_with_labels_and_descriptions(addon: Any) -> None:
    assert _operators() == OPERATORS
    for name in OPERATORS:
        operator = getattr(bpy.ops.posefactory, name)
        rna = operator.get_rna_type()
        assert rna.name.startswith("Pose Factory: "), rna.name
        assert rna.description and not rna.description.endswith("."), (name, rna.description)
        assert operator.idname() == f"POSEFACTORY_OT_{name}"


def test_importing_the_package_needs_no_bpy() -> None:
    import subprocess
    import sys

    code = "import sys; sys.modules['bpy'] = None; import pose_factory_addon; print(pose_factory_addon.__version__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_preferences_key_follows_the_package_name(addon: Any) -> None:
    from pose_factory_addon.ui import preferences

    assert preferences.ADDON_ID == "pose_factory_addon"
    assert preferences.POSEFACTORY_AP_preferences.bl_idname == "pose_factory_addon"
    assert preferences.get_preferences(addon) is not None


def test_greyed_out_operators_explain_why(addon: Any) -> None:
    with pytest.raises(RuntimeError, match="Choose a characters folder"):
        bpy.ops.posefactory.submit_job()
    with pytest.raises(RuntimeError, match="Select a job"):
        bpy.ops.posefactory.cancel_job()
    with pytest.raises(RuntimeError, match="RunPod is not configured"):
        bpy.ops.posefactory.pod_refresh()
    with pytest.raises(RuntimeError, match="Download a completed job"):
        bpy.ops.posefactory.load_contact_sheet()
    with pytest.raises(RuntimeError, match="No background task"):
        bpy.ops.posefactory.cancel_task()


NO_PILLOW_PROBE = """
import sys
sys.modules["PIL"] = None
import bpy
import pose_factory_addon
pose_factory_addon.register()
bpy.context.window_manager.pose_factory.last_output_folder = sys.argv[1]
try:
    bpy.ops.posefactory.load_contact_sheet()
except RuntimeError as error:
    print("REPORT " + str(error).strip())
pose_factory_addon.unregister()
"""


def test_registers_and_explains_without_pillow(rendered_dataset: Any, tmp_path: Any) -> None:
    """Blender does not bundle Pillow: the add-on must still register, and say what is missing."""
    import shutil
    import subprocess
    import sys

    results = tmp_path / "results"
    shutil.copytree(rendered_dataset, results)
    command = [sys.executable, "-c", NO_PILLOW_PROBE, str(results)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    [report] = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert "needs Pillow, which this Blender lacks" in report and "pose-factory preview" in report
