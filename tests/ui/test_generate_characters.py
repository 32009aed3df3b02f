"""'Generate...' and 'Load into Scene': people made by a child process, listed, and imported to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ui_helpers import draw

from pose_factory_addon.ui import bridge
from pose_factory_addon.ui.panels import POSEFACTORY_PT_characters

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy


def test_generate_in_the_background_lists_the_people_and_loads_one(addon: Any, tmp_path: Path, characters_python: Path) -> None:
    settings = bpy.context.scene.pose_factory
    settings.characters_folder = str(tmp_path / "people")
    result = bpy.ops.posefactory.generate_characters(
        background=True, describe="elderly man", body_type="slim", count=1, seed=4, ethnicity="asian"
    )
    assert result == {"FINISHED"}
    assert len(settings.characters) == 0, "results reach Blender only through drain()"
    assert bridge.wait(240)
    progress = [message for message in list(bridge._messages.queue) if isinstance(message, bridge.TaskProgress)]
    assert progress and progress[-1].done == progress[-1].total, "progress came from the child's progress lines"
    finished = [message for message in bridge.drain(addon.window_manager) if message.task == "characters"]
    assert finished and finished[0].ok, finished[0].text if finished else "no result"
    assert finished[0].text == f"Generated 1 person into {tmp_path / 'people'}"
    names = [item.name for item in settings.characters]
    assert len(names) == 1 and names[0].startswith("male_75y_slim_"), names
    assert "Generate..." in draw(POSEFACTORY_PT_characters, addon).joined()

    settings.character_index = 0
    assert bpy.ops.posefactory.load_character() == {"FINISHED"}
    armatures = [obj for obj in bpy.context.scene.objects if obj.type == "ARMATURE"]
    assert len(armatures) == 1 and "pose_factory_character" in armatures[0]


def test_a_bad_request_is_reported_before_anything_starts(addon: Any, tmp_path: Path) -> None:
    bpy.context.scene.pose_factory.characters_folder = str(tmp_path)
    with pytest.raises(RuntimeError, match="nothing in 'purple elephant' describes a person"):
        bpy.ops.posefactory.generate_characters(describe="purple elephant")
    assert not bridge.has_work()


def test_load_needs_a_picked_character(addon: Any) -> None:
    bpy.context.scene.pose_factory.characters.clear()
    with pytest.raises(RuntimeError, match="Pick a character in the list first"):
        bpy.ops.posefactory.load_character()
