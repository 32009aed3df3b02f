"""The panel's motion multi-select: listed from the library, counted in the estimate, rendered by 'Render Here'."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import draw, small_render_settings, use_characters

from pose_factory_addon.core.motion import LIBRARY
from pose_factory_addon.ui import panels

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy


def test_the_render_panel_offers_every_library_motion_and_counts_them(addon: Any, one_character: Path) -> None:
    settings = addon.scene.pose_factory
    items = settings.bl_rna.properties["motions"].enum_items
    assert [item.identifier for item in items] == list(LIBRARY)
    assert items["cartwheel"].description == LIBRARY["cartwheel"][1].capitalize()
    use_characters(addon, one_character)
    shown = draw(panels.POSEFACTORY_PT_render, addon)
    assert ("prop", (settings, "motions"), {"expand": True}) in shown.calls
    assert "1 characters × 8 views × 1 frames = 8 images" in shown.joined()
    settings.motions = {"walk", "cartwheel"}
    settings.mirror_motions = True
    assert "1 characters × 4 motions × 8 views × 1 frames = 32 images" in draw(panels.POSEFACTORY_PT_render, addon).joined()


def test_render_here_renders_the_ticked_motions(addon: Any, one_character: Path, tmp_path: Path) -> None:
    use_characters(addon, one_character)
    small_render_settings(addon)
    settings = addon.scene.pose_factory
    settings.angles = 1
    settings.motions = {"jump"}
    settings.mirror_motions = True
    settings.local_output_folder = str(tmp_path / "renders")
    assert bpy.ops.posefactory.render_local() == {"FINISHED"}
    summary = json.loads((tmp_path / "renders" / "dataset" / "dataset.json").read_text())
    assert [record["motion"] for record in summary["characters"]] == ["jump", "jump_mirrored"]
    assert summary["spec"]["mirror"] is True and summary["counts"]["images"] == 2
