"""The current pod id, kept in ``<user config dir>/pod_id`` (the seed kept ``.pod_id`` in the project root).

The file holds one validated pod id and a newline; it is written through a temporary file
and ``os.replace`` so a reader never sees half an id.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .config import user_config_dir
from .errors import PodError, UsageError
from .pods import validate_pod_id

POD_ID_FILE = "pod_id"


def pod_id_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the current pod id is saved."""
    return user_config_dir(environ) / POD_ID_FILE


def read_pod_id(environ: Mapping[str, str] | None = None) -> str | None:
    """The saved pod id, or ``None`` when none is saved.

    Raises:
        PodError: the file exists but does not hold a valid pod id.
    """
    path = pod_id_path(environ)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise PodError(f"cannot read the saved pod id in {path}: {error}") from error
    try:
        return validate_pod_id(text)
    except UsageError as error:
        raise PodError(f"{path} does not hold a valid pod id; save one with `pose-factory pods use ID`") from error


def save_pod_id(pod_id: str, environ: Mapping[str, str] | None = None) -> Path:
    """Validate ``pod_id`` and save it atomically as the current pod; returns the file path.

    Raises:
        UsageError: ``pod_id`` is not a RunPod pod id.
    """
    validate_pod_id(pod_id)
    path = pod_id_path(environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{POD_ID_FILE}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(pod_id + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
