"""Settings with one precedence rule: arguments > environment > config file > defaults.

The config file is YAML (``--config`` path, else ``$POSE_FACTORY_CONFIG``, else
``<user config dir>/config.yaml``). Secrets are never settings: they are read from the
environment (or Blender preferences) by :func:`secret` at the moment they are needed, so a
config file or a :class:`Settings` dump can never carry one.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import defaults
from .devices import DEVICE_CHOICES, DEVICE_ENV
from .errors import ConfigError
from .security import SECRET_ENV_NAMES

APP_NAME = "pose-factory"
CONFIG_ENV = "POSE_FACTORY_CONFIG"
SECRET_NAMES = frozenset(SECRET_ENV_NAMES)
BACKENDS = ("queue", "serverless")  # where `submit` sends jobs: the S3/R2 job queue, or a RunPod Serverless endpoint
_ENDPOINT_ID = re.compile(r"^[A-Za-z0-9]{4,64}$")


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the user's config file and pod state live (XDG on Linux, the OS norm elsewhere)."""
    env = os.environ if environ is None else environ
    if sys.platform == "win32":
        return Path(env.get("APPDATA", Path.home() / "AppData" / "Roaming")) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    return Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / APP_NAME


def user_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the default local job store and caches live."""
    env = os.environ if environ is None else environ
    if sys.platform == "win32":
        return Path(env.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    return Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / APP_NAME


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where work files that can be made again live (the agent's workspace off a pod)."""
    env = os.environ if environ is None else environ
    if sys.platform == "win32":
        return Path(env.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / APP_NAME / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_NAME
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / APP_NAME


def _positive_float(value: Any) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be greater than 0")
    return number


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("must be a whole number")
    number = int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _non_negative_float(value: Any) -> float:
    number = float(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value.strip()


def _store_url(value: Any) -> str:
    text = _text(value)
    if not text.startswith(("file://", "s3://")) and not text.startswith(("/", ".")):
        raise ValueError("must be file:///path, s3://bucket/prefix, or a folder path starting with / or ./")
    return text


def _device(value: Any) -> str:
    text = _text(value).lower()
    if text not in DEVICE_CHOICES:
        raise ValueError(f"must be one of {', '.join(DEVICE_CHOICES)}")
    return text


def _runpod_endpoint(value: Any) -> str:
    text = _text(value)
    if text and not _ENDPOINT_ID.fullmatch(text):
        raise ValueError("must be a RunPod endpoint id (letters and digits)")
    return text


def _backend(value: Any) -> str:
    text = _text(value).lower()
    if text not in BACKENDS:
        raise ValueError(f"must be one of {', '.join(BACKENDS)}")
    return text


def _http_url(value: Any) -> str:
    text = _text(value)
    if text and not text.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return text.rstrip("/")


@dataclass(frozen=True)
class _Spec:
    env: str
    parse: Callable[[Any], Any]
    help: str


_SPECS: dict[str, _Spec] = {
    "store": _Spec("POSE_FACTORY_STORE", _store_url, "job store URL: file:///folder or s3://bucket/prefix"),
    "s3_endpoint": _Spec(
        "POSE_FACTORY_S3_ENDPOINT", _http_url, "S3 endpoint URL (R2: https://<account>.r2.cloudflarestorage.com)"
    ),
    "s3_region": _Spec("POSE_FACTORY_S3_REGION", _text, "S3 region name ('auto' for R2)"),
    "workspace_root": _Spec("WORKSPACE_ROOT", _text, "agent workspace folder"),
    "poll_interval": _Spec("POSE_FACTORY_POLL_INTERVAL", _positive_float, "seconds between queue polls"),
    "wait_timeout": _Spec("POSE_FACTORY_WAIT_TIMEOUT", _positive_float, "seconds `wait` waits for a job"),
    "lease_seconds": _Spec(
        "POSE_FACTORY_LEASE_SECONDS", _positive_float, "seconds a claimed job stays leased without a heartbeat"
    ),
    "max_attempts": _Spec("POSE_FACTORY_MAX_ATTEMPTS", _positive_int, "attempts before a job is marked failed"),
    "stop_pod_when_idle": _Spec(
        "POSE_FACTORY_STOP_POD_WHEN_IDLE",
        _non_negative_float,
        "minutes of empty queue after which an agent on RunPod stops its own pod (0 = never)",
    ),
    "max_cost_per_job": _Spec("POSE_FACTORY_MAX_COST_PER_JOB", _non_negative_float, "refuse jobs estimated above this many USD"),
    "warning_threshold": _Spec("POSE_FACTORY_WARNING_THRESHOLD", _non_negative_float, "ask for confirmation above this many USD"),
    "max_batch_size": _Spec("POSE_FACTORY_MAX_BATCH_SIZE", _positive_int, "refuse jobs with more images than this"),
    "cost_config": _Spec("POSE_FACTORY_COST_CONFIG", _text, "YAML file overriding the shipped cost_config.yaml"),
    "runpod_api_base_url": _Spec("RUNPOD_API_BASE_URL", _http_url, "RunPod API base URL"),
    "device": _Spec(DEVICE_ENV, _device, "render device: auto (a GPU when Blender sees one), cpu or gpu"),
    "backend": _Spec("POSE_FACTORY_BACKEND", _backend, "where submit sends jobs: queue (the job store) or serverless"),
    "serverless_endpoint": _Spec("POSE_FACTORY_SERVERLESS_ENDPOINT", _runpod_endpoint, "RunPod Serverless endpoint id"),
    "serverless_api_base_url": _Spec(
        "RUNPOD_SERVERLESS_API_BASE_URL", _http_url, "RunPod Serverless API base URL (https://api.runpod.ai/v2)"
    ),
    "stability_api_base_url": _Spec("STABILITY_API_BASE_URL", _http_url, "Stability AI API base URL (pose-factory enhance)"),
}


def _default_store(environ: Mapping[str, str]) -> str:
    return (user_data_dir(environ) / "store").as_uri()


@dataclass(frozen=True)
class Settings:
    """Resolved settings; ``sources`` says where each value came from (for `config show`)."""

    store: str
    s3_endpoint: str = ""
    s3_region: str = defaults.S3_REGION
    workspace_root: str = defaults.WORKSPACE_ROOT
    poll_interval: float = defaults.POLL_INTERVAL_S
    wait_timeout: float = defaults.WAIT_TIMEOUT_S
    lease_seconds: float = defaults.LEASE_SECONDS
    max_attempts: int = defaults.MAX_ATTEMPTS
    stop_pod_when_idle: float = defaults.STOP_POD_WHEN_IDLE_MIN
    max_cost_per_job: float = defaults.MAX_COST_PER_JOB_USD
    warning_threshold: float = defaults.WARNING_THRESHOLD_USD
    max_batch_size: int = defaults.MAX_BATCH_SIZE
    cost_config: str = ""
    runpod_api_base_url: str = defaults.RUNPOD_API_BASE_URL
    device: str = defaults.RENDER_DEVICE
    backend: str = defaults.SUBMIT_BACKEND
    serverless_endpoint: str = ""
    serverless_api_base_url: str = defaults.RUNPOD_SERVERLESS_API_BASE_URL
    stability_api_base_url: str = defaults.STABILITY_API_BASE_URL
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)


def describe_settings() -> list[tuple[str, str, str]]:
    """``(key, environment variable, help)`` for every setting, for docs and `--help`."""
    return [(key, spec.env, spec.help) for key, spec in _SPECS.items()]


def config_file_path(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Path | None, str]:
    """The config file to read and why: ``--config``, ``$POSE_FACTORY_CONFIG``, or the user dir."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit), "--config"
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]), f"${CONFIG_ENV}"
    candidate = user_config_dir(env) / "config.yaml"
    return (candidate, "user config") if candidate.is_file() else (None, "")


def _read_config_file(path: Path, origin: str) -> dict[str, Any]:
    import yaml

    source = f"config file {path} ({origin})"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError("config", str(path), origin, f"cannot read the file ({error.strerror})") from error
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError("config", str(path), origin, f"not valid YAML ({error})") from error
    if not isinstance(data, dict):
        raise ConfigError("config", str(path), origin, "must be a mapping of setting names to values")
    for key in data:
        if str(key).upper() in SECRET_NAMES:
            raise ConfigError(str(key), "***", source, "secrets belong in the environment, not in a config file")
        if key not in _SPECS:
            raise ConfigError(str(key), data[key], source, f"unknown setting (known: {', '.join(sorted(_SPECS))})")
    return data


def load_settings(
    arguments: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve every setting; ``arguments`` holds command-line values (``None`` = not given).

    Raises:
        ConfigError: naming the key, the bad value and its source.
    """
    env = os.environ if environ is None else environ
    layers: list[tuple[str, Mapping[str, Any]]] = []
    path, origin = config_file_path(config_path, env)
    if path is not None:
        if not path.is_file():
            raise ConfigError("config", str(path), origin, "file does not exist")
        layers.append((f"config file {path}", _read_config_file(path, origin)))
    layers.append(("environment", {key: env[spec.env] for key, spec in _SPECS.items() if env.get(spec.env, "") != ""}))
    given = {key: value for key, value in (arguments or {}).items() if value is not None}
    for key in given:
        if key not in _SPECS:
            raise ConfigError(key, given[key], "arguments", "unknown setting")
    layers.append(("arguments", given))

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, layer in layers:
        for key, raw in layer.items():
            label = f"${_SPECS[key].env}" if source == "environment" else source
            try:
                values[key] = _SPECS[key].parse(raw)
            except (TypeError, ValueError) as error:
                raise ConfigError(key, raw, label, str(error)) from error
            sources[key] = label
    if "store" not in values:
        values["store"] = _default_store(env)
        sources["store"] = "default"
    for spec_field in fields(Settings):
        sources.setdefault(spec_field.name, "default")
    sources.pop("sources", None)
    settings = Settings(**values, sources=sources)
    if settings.warning_threshold > settings.max_cost_per_job:
        raise ConfigError(
            "warning_threshold",
            settings.warning_threshold,
            sources["warning_threshold"],
            f"must not exceed max_cost_per_job ({settings.max_cost_per_job})",
        )
    return settings


def secret(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A credential from the environment, or ``None``; never stored in settings or files."""
    if name not in SECRET_NAMES:
        raise KeyError(f"{name} is not a known secret")
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None
