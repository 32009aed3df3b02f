"""Questions about the scene and the connection that panels, operators and the snapshot all ask.

Everything here is a pure read of Blender data and settings, cheap enough for ``draw()`` and
``poll()``, except :func:`measured_dirs`, which looks at the disk and is only called when the
estimate is recomputed.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import bpy

from ..core.config import user_data_dir
from .preferences import Connection
from .work import search_dirs

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
OFFLINE_NOTE = "Blender is in offline mode: allow online access in Preferences > System > Network"


def _is_loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in _LOOPBACK_HOSTS


def offline_reason(link: Connection, service: str) -> str:
    """Why Blender's offline mode blocks ``service`` (``store``, ``runpod`` or ``stability``), or ``""``.

    Local folders and loopback endpoints (a test server on this machine) are not "online".
    """
    if bpy.app.online_access:
        return ""
    if service == "store":
        if not link.is_s3 or _is_loopback(link.settings.s3_endpoint):
            return ""
        return f"{OFFLINE_NOTE} (needed to reach the S3 store)"
    if service == "stability":
        return "" if _is_loopback(link.settings.stability_api_base_url) else f"{OFFLINE_NOTE} (needed to reach Stability AI)"
    if _is_loopback(link.settings.runpod_api_base_url):
        return ""
    return f"{OFFLINE_NOTE} (needed to reach RunPod)"


def selected_armature(context: bpy.types.Context) -> bpy.types.Object | None:
    """The active object if it is an armature, else the first selected armature."""
    active = getattr(context, "active_object", None)
    if active is not None and active.type == "ARMATURE":
        return active
    return next((obj for obj in getattr(context, "selected_objects", None) or () if obj.type == "ARMATURE"), None)


def character_count(context: bpy.types.Context) -> int:
    """Characters a job would render: ticked files plus the selected armature when asked for."""
    settings = context.scene.pose_factory
    ticked = sum(1 for item in settings.characters if item.enabled)
    return ticked + int(settings.use_selected_armature and selected_armature(context) is not None)


def _folder(chosen: str, beside_blend: str, in_user_data: str) -> Path:
    """The chosen folder, else one beside the saved .blend file, else one in the user data directory."""
    if chosen:
        return Path(bpy.path.abspath(chosen))
    if bpy.data.filepath:
        return Path(bpy.path.abspath(f"//{beside_blend}"))
    return user_data_dir() / in_user_data


def results_root(context: bpy.types.Context) -> Path:
    """Where downloads go (each job into its own ``<job id>`` folder below it)."""
    return _folder(context.scene.pose_factory.download_folder, "pose_factory_results", "results")


def local_output_root(context: bpy.types.Context) -> Path:
    """Where 'Render Here' writes (each dataset into its ``<output name>`` folder below it)."""
    return _folder(context.scene.pose_factory.local_output_folder, "pose_factory_renders", "renders")


def measured_dirs(context: bpy.types.Context) -> tuple[str, ...]:
    """Downloaded job results, whose pod timings make the cost estimate a measured one (as ``submit`` does).

    Looks at the disk. Local renders are left out: this computer's speed says nothing about a GPU pod's.
    """
    return search_dirs([str(results_root(context))])


def results_folder(context: bpy.types.Context) -> str:
    """The selected job's downloaded results, else the last local render (``""``: none yet). Not checked on disk."""
    runtime = context.window_manager.pose_factory
    job = runtime.active_job()
    return (job.results_folder if job is not None else "") or runtime.last_output_folder
