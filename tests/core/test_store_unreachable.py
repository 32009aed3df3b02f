"""An S3 endpoint that cannot be reached fails within 10 s with one line (after one "retrying" notice), while an
endpoint that answered once, or answers 5xx, keeps the long retry budget."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pose_factory_addon.core import defaults
from pose_factory_addon.core.errors import StoreError, StoreUnreachable
from pose_factory_addon.core.store import S3Store

LIMIT_S = 10.0
KEYS = {"AWS_ACCESS_KEY_ID": "AKIAUNREACHABLE", "AWS_SECRET_ACCESS_KEY": "unreachable-secret-value"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _blackhole() -> Iterator[int]:
    """A port whose listening socket never accepts: its backlog of one is taken, so new connections time out."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        yield int(listener.getsockname()[1])


def _environment(endpoint: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, **KEYS, "POSE_FACTORY_S3_ENDPOINT": endpoint, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def _run_cli(endpoint: str, arguments: list[str], tmp_path: Path, results: dict[str, tuple[float, int, str]]) -> None:
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "pose_factory_addon.cli", *arguments],
        capture_output=True,
        text=True,
        env=_environment(endpoint, tmp_path),
        timeout=60,
    )
    results[endpoint] = (time.monotonic() - started, process.returncode, process.stderr)


def test_unreachable_endpoints_fail_within_10_s_with_one_line(tmp_path: Path) -> None:
    """Connection refused and a connect timeout (run side by side to keep the test short)."""
    refused = f"http://127.0.0.1:{_closed_port()}"
    results: dict[str, tuple[float, int, str]] = {}
    with _blackhole() as port:
        blackhole = f"http://127.0.0.1:{port}"
        arguments = ["status", "--store", "s3://pose-bucket/x"]
        threads = [threading.Thread(target=_run_cli, args=(url, arguments, tmp_path, results)) for url in (refused, blackhole)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    budget = f"{defaults.S3_CONNECT_RETRY_S:.0f}"
    for endpoint, reason in ((refused, "connection refused"), (blackhole, "timeout")):
        seconds, status, stderr = results[endpoint]
        print(f"status against {reason}: {seconds:.1f} s")
        assert status == 1 and seconds < LIMIT_S, (seconds, stderr)
        notice, error = stderr.splitlines()
        assert notice == f"pose-factory status: cannot reach {endpoint} yet ({reason}), retrying for up to {budget} s..."
        assert error.startswith(f"pose-factory status: list s3://pose-bucket/x/jobs/pending/: endpoint {endpoint} unreachable ")
        assert f"({reason}) after " in error and "Traceback" not in stderr
        assert KEYS["AWS_SECRET_ACCESS_KEY"] not in stderr


def test_the_agent_reports_retries_as_events_and_keeps_its_log_json(tmp_path: Path) -> None:
    """The agent outlives store outages by design (it logs poll_failed and polls again); its notices are events."""
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    agent = subprocess.Popen(
        [sys.executable, "-m", "pose_factory_addon.cli", "agent", "--store", "s3://pose-bucket/x", "--poll", "0.1"],
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(endpoint, tmp_path),
    )
    assert agent.stderr is not None
    try:
        events = [json.loads(agent.stderr.readline()) for _ in range(2)]
    finally:
        agent.kill()  # a clean stop would first wait for the store's retries to give up
        agent.wait(timeout=30)
    assert [event["event"] for event in events] == ["agent_started", "store_retrying"]
    budget = f"{defaults.S3_CONNECT_RETRY_S:.0f}"
    assert events[1]["message"] == f"cannot reach {endpoint} yet (connection refused), retrying for up to {budget} s..."


class _S3Answers(BaseHTTPRequestHandler):
    """Answers every request with ``server.answer``: an HTTP status and an S3 error code."""

    def do_GET(self) -> None:
        status, code = self.server.answer  # type: ignore[attr-defined]
        body = f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def _s3_answering(status: int, code: str) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _S3Answers)
    server.answer = (status, code)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _store(endpoint: str) -> S3Store:
    return S3Store(
        "pose-bucket",
        "p",
        endpoint=endpoint,
        retry_seconds=1.5,
        connect_retry_seconds=0.3,
        access_key=KEYS["AWS_ACCESS_KEY_ID"],
        secret_key=KEYS["AWS_SECRET_ACCESS_KEY"],
    )


def _timed_failure(store: S3Store) -> tuple[float, StoreError]:
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        store.get("jobs/status/x.json")
    return time.monotonic() - started, caught.value


def test_a_never_reached_endpoint_gets_the_short_budget() -> None:
    seconds, error = _timed_failure(_store(f"http://127.0.0.1:{_closed_port()}"))
    assert isinstance(error, StoreUnreachable) and error.reason == "connection refused"
    assert seconds < 0.3 + 0.5


def test_an_endpoint_that_answered_keeps_the_long_budget_when_it_goes_away(caplog: pytest.LogCaptureFixture) -> None:
    with _s3_answering(404, "NoSuchKey") as endpoint:
        store = _store(endpoint)
        assert store.get("jobs/status/x.json") is None
    seconds, error = _timed_failure(store)  # the server is gone: connections are refused now
    assert isinstance(error, StoreUnreachable) and error.reason == "connection refused"
    assert 1.0 <= seconds < 1.5 + 0.5
    assert [record.getMessage() for record in caplog.records] == [
        f"cannot reach {endpoint} yet (connection refused), retrying for up to 2 s..."
    ]


def test_5xx_answers_keep_the_long_budget(caplog: pytest.LogCaptureFixture) -> None:
    with _s3_answering(503, "ServiceUnavailable") as endpoint:
        seconds, error = _timed_failure(_store(endpoint))
    assert not isinstance(error, StoreUnreachable) and "ServiceUnavailable" in str(error)
    assert 1.0 <= seconds < 1.5 + 0.5
    assert [record.getMessage() for record in caplog.records] == [
        f"{endpoint} answered ServiceUnavailable ServiceUnavailable, retrying for up to 2 s..."
    ]


def test_the_defaults_fit_in_10_s() -> None:
    """No attempt starts that would end after the connect budget; starting Python and boto3 takes up to 3 s on a
    busy 2-core machine."""
    assert defaults.S3_CONNECT_RETRY_S + 3.0 < LIMIT_S
    assert defaults.S3_CONNECT_TIMEOUT_S < defaults.S3_CONNECT_RETRY_S / 2  # a timed-out endpoint is tried twice
