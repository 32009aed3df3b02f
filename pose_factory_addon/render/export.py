"""Write the current scene's characters as FBX or GLB files that Pose Factory's importer reads back.

Custom properties travel with the files (FBX user properties, glTF ``extras``), so a generated
character keeps its description and its landmark vertices wherever the file goes.
"""

from __future__ import annotations

from pathlib import Path

import bpy


def export_fbx(path: Path, animation: bool = True) -> None:
    """FBX as Mixamo ships it: Y up, -Z forward, bones along Y, no leaf bones, custom properties kept, and
    (``animation``) the action baked; without it no take is written, not even the scene's frame range.

    A scene whose armature has Mixamo's object transform (scale 0.01, 90 degrees about X) gets
    centimetre bone data and an identity root, exactly like a Mixamo download.
    """
    bpy.ops.export_scene.fbx(
        filepath=str(path),
        use_selection=False,
        object_types={"ARMATURE", "MESH"},
        global_scale=1.0,
        apply_unit_scale=True,
        apply_scale_options="FBX_SCALE_NONE",
        axis_forward="-Z",
        axis_up="Y",
        add_leaf_bones=False,
        primary_bone_axis="Y",
        secondary_bone_axis="X",
        use_armature_deform_only=False,
        use_custom_props=True,
        bake_anim=animation,
        bake_anim_use_all_bones=True,
        bake_anim_use_nla_strips=False,
        bake_anim_use_all_actions=False,
        bake_anim_force_startend_keying=True,
        bake_anim_simplify_factor=0.0,
        path_mode="STRIP",
    )


def export_glb(path: Path, animations: bool = True) -> None:
    """Binary glTF with skins, custom properties as ``extras``, and (``animations``) the scene's action sampled."""
    bpy.ops.export_scene.gltf(
        filepath=str(path),
        export_format="GLB",
        use_selection=False,
        export_animations=animations,
        export_skins=True,
        export_yup=True,
        export_apply=False,
        export_extras=True,
        export_force_sampling=True,
        use_active_scene=True,
    )
