"""Keypoint definitions: one source of truth for MediaPipe-33 and COCO-17."""

from __future__ import annotations

from pose_factory_addon.core.skeletons import (
    COCO17_NAMES,
    COCO17_SKELETON,
    KEYPOINT_SETS,
    MEDIAPIPE33_EDGES,
    MEDIAPIPE33_NAMES,
    MIXAMO_LANDMARK_SOURCES,
    canonical_bone_name,
    missing_mixamo_bones,
)


def test_sizes_and_indices() -> None:
    assert len(MEDIAPIPE33_NAMES) == 33 and len(set(MEDIAPIPE33_NAMES)) == 33
    assert len(COCO17_NAMES) == 17
    assert (
        MEDIAPIPE33_NAMES[0] == "nose"
        and MEDIAPIPE33_NAMES[11] == "left_shoulder"
        and MEDIAPIPE33_NAMES[32] == "right_foot_index"
    )
    assert COCO17_NAMES[5] == "left_shoulder" and COCO17_NAMES[16] == "right_ankle"
    assert len(MEDIAPIPE33_EDGES) == 35 and all(0 <= a < 33 and 0 <= b < 33 for a, b in MEDIAPIPE33_EDGES)


def test_coco_skeleton_is_one_based_and_matches_the_coco_release() -> None:
    assert len(COCO17_SKELETON) == 19
    assert min(min(edge) for edge in COCO17_SKELETON) == 1 and max(max(edge) for edge in COCO17_SKELETON) == 17
    assert (16, 14) in COCO17_SKELETON and (6, 7) in COCO17_SKELETON


def test_coco_is_a_selection_of_mediapipe() -> None:
    coco = KEYPOINT_SETS["coco17"]
    assert [MEDIAPIPE33_NAMES[i] for i in coco.mediapipe_indices] == list(COCO17_NAMES)
    assert coco.edges[0] == (15, 13)


def test_every_landmark_has_a_mixamo_source_and_sides_mirror() -> None:
    assert set(MIXAMO_LANDMARK_SOURCES) == set(MEDIAPIPE33_NAMES)
    for name, source in MIXAMO_LANDMARK_SOURCES.items():
        if name.startswith("left_"):
            mirror = MIXAMO_LANDMARK_SOURCES[name.replace("left_", "right_")]
            assert mirror.kind == source.kind
            assert mirror.bone == source.bone.replace("Left", "Right")
    assert MIXAMO_LANDMARK_SOURCES["left_shoulder"].bone == "LeftArm"
    assert MIXAMO_LANDMARK_SOURCES["left_wrist"].bone == "LeftHand"
    assert MIXAMO_LANDMARK_SOURCES["nose"].kind == "surface"


def test_bone_name_prefixes() -> None:
    for name in ("mixamorig:LeftArm", "mixamorig1:LeftArm", "mixamorig_LeftArm", "Armature:mixamorig:LeftArm", "LeftArm"):
        assert canonical_bone_name(name) == "LeftArm"
    bones = [f"mixamorig:{b}" for b in ("Hips", "Spine", "Neck", "Head", "LeftArm")]
    missing = missing_mixamo_bones(bones)
    assert "RightArm" in missing and "LeftArm" not in missing and "Head" not in missing
