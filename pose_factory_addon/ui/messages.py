"""One plain, redacted sentence for any failure a background task can meet (no bpy here).

Domain errors already carry sentences written for the user; store errors about an unreachable
endpoint become "Cannot reach the bucket at <endpoint> (timeout)" so the user knows what to
check without reading botocore class names.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.config import Settings
from ..core.errors import PoseFactoryError, StoreUnreachable
from ..core.security import redact

NOT_CONFIGURED = {
    "s3": "S3 is not configured: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or type them in the add-on preferences",
    "runpod": "RunPod is not configured: set RUNPOD_API_KEY or type a key in the add-on preferences",
    "stability": "Stability AI is not configured: set STABILITY_API_KEY or type a key in the add-on preferences",
    "pod": "No pod id: set one in the add-on preferences or run `pose-factory pods use ID`",
}


def _bucket_location(settings: Settings | None) -> str:
    if settings is None:
        return "the configured endpoint"
    return f"{settings.s3_endpoint} ({settings.store})" if settings.s3_endpoint else settings.store


def plain_message(error: BaseException, settings: Settings | None = None, secrets: Iterable[str] = ()) -> str:
    """A one-line message for ``error`` with every known secret (environment and ``secrets``) hidden."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, StoreUnreachable):
        text = f"Cannot reach the bucket at {_bucket_location(settings)} ({error.reason})"
    elif isinstance(error, OSError) and not isinstance(error, PoseFactoryError):
        where = f": {error.filename}" if error.filename else ""
        text = f"{error.strerror or text}{where}"
    elif not isinstance(error, PoseFactoryError):
        text = f"Unexpected {type(error).__name__}: {text}"
    text = text[0].upper() + text[1:] if text else text
    return redact(redact(text), list(secrets))
