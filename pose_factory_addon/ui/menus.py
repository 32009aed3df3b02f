"""A "Pose Factory" submenu in the top bar's Render menu, listing the main operators.

Blender's F3 search finds operators through menus (without Developer Extras it lists only
menu entries), so this menu is what makes "Pose Factory: Submit Job" and the others findable.
"""

from __future__ import annotations

import bpy

MENU_OPERATORS = (
    ("posefactory.render_local", "RENDER_STILL"),
    ("posefactory.submit_job", "EXPORT"),
    ("posefactory.estimate_cost", "INFO"),
    ("posefactory.refresh_jobs", "FILE_REFRESH"),
    ("posefactory.download_results", "IMPORT"),
    ("posefactory.open_results_folder", "FILE_FOLDER"),
    ("posefactory.load_contact_sheet", "IMAGE_DATA"),
    ("posefactory.check_labels", "VIEWZOOM"),
    ("posefactory.enhance_dataset", "SHADERFX"),
    ("posefactory.scan_characters", "FILE_REFRESH"),
    ("posefactory.generate_characters", "OUTLINER_OB_ARMATURE"),
    ("posefactory.load_character", "IMPORT"),
    ("posefactory.pod_refresh", "NETWORK_DRIVE"),
    ("posefactory.pod_start", "PLAY"),
    ("posefactory.pod_stop", "PAUSE"),
    ("posefactory.pod_terminate", "TRASH"),
)


class POSEFACTORY_MT_main(bpy.types.Menu):
    bl_idname = "POSEFACTORY_MT_main"
    bl_label = "Pose Factory"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.operator_context = "INVOKE_DEFAULT"
        for index, (operator, icon) in enumerate(MENU_OPERATORS):
            if index in (3, 9, 12):
                layout.separator()
            layout.operator(operator, icon=icon)


def _draw_in_render_menu(self: bpy.types.Menu, context: bpy.types.Context) -> None:
    self.layout.separator()
    self.layout.menu(POSEFACTORY_MT_main.bl_idname, icon="ARMATURE_DATA")


def register() -> None:
    bpy.utils.register_class(POSEFACTORY_MT_main)
    bpy.types.TOPBAR_MT_render.append(_draw_in_render_menu)


def unregister() -> None:
    bpy.types.TOPBAR_MT_render.remove(_draw_in_render_menu)
    bpy.utils.unregister_class(POSEFACTORY_MT_main)
