"""AWS_SESSION_TOKEN (temporary credentials from R2 or AWS STS) reaches the S3 client and every signed request."""

from __future__ import annotations

from typing import Any

import pytest
from seaweedfs_server import SeaweedFS

from pose_factory_addon.core.config import load_settings
from pose_factory_addon.core.store import S3Store, open_store

pytestmark = [pytest.mark.s3]
TOKEN = "FwoGZXIvYXdzEXAMPLE-session-token-value"


def _recorded_headers(store: S3Store) -> list[dict[str, str]]:
    """Headers of every request the store's boto3 client sends from now on, as they go on the wire."""
    sent: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append({name: value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()})

    store._client.meta.events.register("before-send.s3", record)
    return sent


def _environment(server: SeaweedFS, **extra: str) -> dict[str, str]:
    return {**server.environment(), **extra}


def test_session_token_is_sent_with_every_request(s3_server: SeaweedFS) -> None:
    environ = _environment(s3_server, AWS_SESSION_TOKEN=TOKEN)
    url = f"s3://{s3_server.bucket}/session-token"
    store = open_store(url, load_settings(environ=environ), environ=environ)
    assert isinstance(store, S3Store)
    sent = _recorded_headers(store)
    store.put("probe.txt", b"hello")
    stored = store.get("probe.txt")
    assert stored is not None and stored.data == b"hello"
    assert len(sent) == 2
    assert all(headers.get("X-Amz-Security-Token") == TOKEN for headers in sent)
    assert all("x-amz-security-token" in headers["Authorization"] for headers in sent)  # signed, not only sent


def test_no_token_header_without_the_variable(s3_server: SeaweedFS) -> None:
    environ = _environment(s3_server)
    store = open_store(f"s3://{s3_server.bucket}/no-session-token", load_settings(environ=environ), environ=environ)
    assert isinstance(store, S3Store)
    sent = _recorded_headers(store)
    store.put("probe.txt", b"hello")
    assert sent and all("X-Amz-Security-Token" not in headers for headers in sent)


def test_session_token_is_redacted_from_store_errors(s3_server: SeaweedFS) -> None:
    store = S3Store(
        s3_server.bucket,
        "redaction",
        endpoint=s3_server.endpoint,
        access_key="weed-test-access",
        secret_key="weed-test-secret",
        session_token=TOKEN,
    )
    error = store._error("get", "x.json", f"denied for token {TOKEN}")
    assert TOKEN not in str(error) and "***" in str(error)
