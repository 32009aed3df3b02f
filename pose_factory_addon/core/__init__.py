"""Blender-free core of Pose Factory: everything that can be tested without bpy.

Nothing in this package may import ``bpy``, ``mathutils`` or a Blender-layer module
(``pose_factory_addon.render`` / ``pose_factory_addon.ui``); ``tests/core/test_layering.py``
enforces it.
"""
