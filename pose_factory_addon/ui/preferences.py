"""Add-on preferences (store, S3, RunPod, Stability AI) and the one accessor the operators read them through.

The preferences key is the top package's name, which is ``pose_factory_addon`` in a checkout and
``bl_ext.<repo>.pose_factory`` once Blender installs the extension, so it is computed, never typed.
Credentials come from the environment unless the user types one here; Blender saves preferences
in plain text (``userpref.blend``), which the preferences panel says next to those fields.
Nothing from this module is ever written into a scene, a manifest or a log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import bpy

from ..core.config import Settings, load_settings, secret
from ..core.pod_state import read_pod_id

ADDON_ID = __package__.rpartition(".")[0]
PLAIN_TEXT_NOTE = "Blender saves preferences in plain text: prefer environment variables for keys"

# Preference field -> environment name it stands in for.
_SECRET_FIELDS = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "runpod_api_key": "RUNPOD_API_KEY",
    "stability_api_key": "STABILITY_API_KEY",
}

# Submit To choice -> the ``backend`` setting (``None``: the environment and config file decide).
_BACKENDS = {"QUEUE": "queue", "SERVERLESS": "serverless"}


def _preferences_changed(_self: bpy.types.AddonPreferences, context: bpy.types.Context) -> None:
    """A store, pod or key preference changed: resolve the connection and the estimate again (never in draw)."""
    from .snapshot import refresh_all

    refresh_all(context)


class POSEFACTORY_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    store_url: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Job Store",
        description="file:///folder or s3://bucket/prefix; empty uses $POSE_FACTORY_STORE, the config file, "
        "then a folder in your user data directory",
        default="",
        update=_preferences_changed,
    )
    s3_endpoint: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="S3 Endpoint",
        description="https://<account>.r2.cloudflarestorage.com for R2; empty uses $POSE_FACTORY_S3_ENDPOINT or AWS",
        default="",
        update=_preferences_changed,
    )
    s3_region: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="S3 Region",
        description="'auto' for R2; empty uses $POSE_FACTORY_S3_REGION or 'auto'",
        default="",
        update=_preferences_changed,
    )
    runpod_pod_id: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="RunPod Pod ID",
        description="Pod to start and stop; empty uses the pod saved by `pose-factory pods use`",
        default="",
        update=_preferences_changed,
    )
    job_backend: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Submit To",
        description="Where Submit Job sends jobs",
        items=(
            ("SETTINGS", "From Settings", "$POSE_FACTORY_BACKEND or the config file; the job queue when neither says"),
            ("QUEUE", "Job Queue", "The job store's queue: agents on your pods (or this machine) take the jobs"),
            ("SERVERLESS", "RunPod Serverless", "A RunPod Serverless endpoint: RunPod queues, scales and retries the jobs"),
        ),
        default="SETTINGS",
        update=_preferences_changed,
    )
    serverless_endpoint: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Serverless Endpoint",
        description="RunPod Serverless endpoint id (letters and digits); empty uses $POSE_FACTORY_SERVERLESS_ENDPOINT",
        default="",
        update=_preferences_changed,
    )
    aws_access_key_id: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Access Key ID",
        description="Overrides $AWS_ACCESS_KEY_ID; leave empty to use the environment",
        subtype="PASSWORD",
        update=_preferences_changed,
    )
    aws_secret_access_key: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Secret Access Key",
        description="Overrides $AWS_SECRET_ACCESS_KEY; leave empty to use the environment",
        subtype="PASSWORD",
        update=_preferences_changed,
    )
    runpod_api_key: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="RunPod API Key",
        description="Overrides $RUNPOD_API_KEY; leave empty to use the environment",
        subtype="PASSWORD",
        update=_preferences_changed,
    )
    stability_api_key: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Stability AI Key",
        description="Overrides $STABILITY_API_KEY (Enhance with Stability AI); leave empty to use the environment",
        subtype="PASSWORD",
        update=_preferences_changed,
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        box = layout.box()
        box.label(text="Job Store", icon="DISK_DRIVE")
        box.prop(self, "store_url")
        box.prop(self, "s3_endpoint")
        box.prop(self, "s3_region")
        box.operator("posefactory.test_store", text="Test Connection", icon="PLUGIN")
        box = layout.box()
        box.label(text="RunPod", icon="NETWORK_DRIVE")
        box.prop(self, "runpod_pod_id")
        box.prop(self, "job_backend")
        box.prop(self, "serverless_endpoint")
        box.operator("posefactory.test_runpod", text="Test Connection", icon="PLUGIN")
        runtime = getattr(context.window_manager, "pose_factory", None)
        if runtime is not None and (runtime.connection_test or runtime.is_running("test")):
            box = layout.box()
            task = runtime.task("test")
            box.label(text=task.text if task is not None and task.running else "Last connection test", icon="INFO")
            for line in runtime.connection_test.split("\n") if runtime.connection_test else ():
                row = box.row()
                row.alert = line.startswith("Failed")
                row.label(text=line)
        box = layout.box()
        box.label(text="Credentials (read from the environment when empty)", icon="LOCKED")
        for field, env_name in _SECRET_FIELDS.items():
            row = box.row()
            row.prop(self, field)
            row.label(text="set in environment" if secret(env_name) else "", icon="CHECKMARK" if secret(env_name) else "NONE")
        box.label(text=PLAIN_TEXT_NOTE, icon="ERROR")


@dataclass(frozen=True)
class Connection:
    """Everything a worker thread needs to reach the store and RunPod, as plain data (no bpy).

    ``environ`` is ``os.environ`` with the keys typed into the preferences on top; ``secrets``
    lists every credential value so messages can be redacted; ``pod_id`` is ``""`` when none.
    """

    settings: Settings
    environ: Mapping[str, str]
    pod_id: str
    secrets: tuple[str, ...]

    @property
    def is_s3(self) -> bool:
        return self.settings.store.startswith("s3://")

    def missing_s3_credentials(self) -> bool:
        return self.is_s3 and not (secret("AWS_ACCESS_KEY_ID", self.environ) and secret("AWS_SECRET_ACCESS_KEY", self.environ))

    def runpod_api_key(self) -> str:
        return secret("RUNPOD_API_KEY", self.environ) or ""

    def submission_target(self) -> str:
        """Where Submit Job sends jobs, in words (the Jobs panel shows it)."""
        if self.settings.backend != "serverless":
            return f"job queue in {self.settings.store}"
        return f"RunPod Serverless endpoint {self.settings.serverless_endpoint or '(none set)'}"

    def stability_api_key(self) -> str:
        return secret("STABILITY_API_KEY", self.environ) or ""


def get_preferences(context: bpy.types.Context) -> POSEFACTORY_AP_preferences | None:
    """The add-on's preferences, or ``None`` when it was registered without Blender's add-on manager."""
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


def connection(context: bpy.types.Context) -> Connection:
    """Resolved settings and credentials: preferences > environment > config file > defaults.

    Raises:
        ConfigError: a preference or environment value is malformed (the message names it).
        PodError: the saved pod id file is unreadable.
    """
    preferences = get_preferences(context)
    environ = dict(os.environ)
    arguments: dict[str, str | None] = {}
    pod_id = ""
    if preferences is not None:
        for field, env_name in _SECRET_FIELDS.items():
            value = getattr(preferences, field).strip()
            if value:
                environ[env_name] = value
        arguments = {
            "store": preferences.store_url.strip() or None,
            "s3_endpoint": preferences.s3_endpoint.strip() or None,
            "s3_region": preferences.s3_region.strip() or None,
            "backend": _BACKENDS.get(preferences.job_backend),
            "serverless_endpoint": preferences.serverless_endpoint.strip() or None,
        }
        pod_id = preferences.runpod_pod_id.strip()
    settings = load_settings(arguments, environ=environ)
    if not pod_id:
        pod_id = read_pod_id(environ) or ""
    secrets = tuple(value for name in sorted(set(_SECRET_FIELDS.values())) if (value := secret(name, environ)))
    return Connection(settings=settings, environ=environ, pod_id=pod_id, secrets=secrets)


classes = (POSEFACTORY_AP_preferences,)
register, unregister = bpy.utils.register_classes_factory(classes)
