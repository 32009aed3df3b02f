"""Scene variety and passes in the Render panel: offered with plain names, checked, and rendered by 'Render Here'."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import draw, small_render_settings, use_characters

from pose_factory_addon.ui import panels

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy


def test_the_render_panel_offers_scene_variety_and_passes(addon: Any, one_character: Path) -> None:
    settings = addon.scene.pose_factory
    names = {item.identifier: item.name for item in settings.bl_rna.properties["scene_variety"].enum_items}
    assert names == {"none": "Studio", "light": "Varied", "full": "Realistic"}
    use_characters(addon, one_character)
    shown = draw(panels.POSEFACTORY_PT_render, addon)
    assert ("prop", (settings, "scene_variety"), {}) in shown.calls
    assert ("prop", (settings, "passes"), {"expand": True}) in shown.calls
    settings.preset = "preview"
    settings.passes = {"parts"}
    assert "Parts need the Standard or Quality preset" in draw(panels.POSEFACTORY_PT_render, addon).joined()
    assert "varies only the camera" not in draw(panels.POSEFACTORY_PT_render, addon).joined()
    settings.scene_variety = "full"
    assert "Preview (Workbench) varies only the camera" in draw(panels.POSEFACTORY_PT_render, addon).joined()


def test_render_here_renders_with_scene_variety_and_passes(addon: Any, one_character: Path, tmp_path: Path) -> None:
    use_characters(addon, one_character)
    small_render_settings(addon)
    settings = addon.scene.pose_factory
    settings.scene_variety = "light"
    settings.passes = {"mask", "depth"}
    settings.local_output_folder = str(tmp_path / "renders")
    assert bpy.ops.posefactory.render_local() == {"FINISHED"}
    out = tmp_path / "renders" / "dataset"
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["spec"]["randomize"] == "light" and summary["spec"]["passes"] == ["depth", "mask"]
    for image in summary["images"]:
        label = json.loads((out / image["label"]).read_text())
        assert label["scene"]["randomize"] == "light"
        assert (out / label["passes"]["mask"]).is_file() and (out / label["passes"]["depth"]).is_file()


def test_parts_with_the_preview_preset_are_refused_before_rendering(addon: Any, one_character: Path, tmp_path: Path) -> None:
    use_characters(addon, one_character)
    small_render_settings(addon)
    settings = addon.scene.pose_factory
    settings.passes = {"parts"}
    settings.local_output_folder = str(tmp_path / "renders")
    with pytest.raises(RuntimeError, match="parts needs Cycles"):
        bpy.ops.posefactory.render_local()
    assert not (tmp_path / "renders" / "dataset").exists()
