"""Shared fixtures: one SeaweedFS S3 server per session, a fresh store per test, the built extension.

``store`` is parametrized over :class:`LocalStore` and :class:`S3Store` so the same
protocol tests run against both; the S3 variant is marked ``s3``.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from runpod_server import RunPodServer
from runpod_server import runpod_server as start_runpod_server
from seaweedfs_server import SeaweedFS

from pose_factory_addon.core.store import LocalStore, ObjectStore, S3Store

S3_RETRY_SECONDS = 30.0
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedFS]:
    """SeaweedFS on free loopback ports with a temp data folder, stopped at the end of the session."""
    with SeaweedFS() as server:
        yield server


@pytest.fixture
def s3_url(s3_server: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://bucket/<fresh prefix>`` with the endpoint and test credentials in the environment."""
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_server.bucket}/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def runpod_server() -> Iterator[RunPodServer]:
    """A local server speaking RunPod's GraphQL API (tests/runpod_server.py), fresh for each test."""
    with start_runpod_server() as server:
        yield server


def make_s3_store(server: SeaweedFS, prefix: str | None = None) -> S3Store:
    environment = server.environment()
    return S3Store(
        server.bucket,
        prefix or f"test-{uuid.uuid4().hex[:12]}",
        endpoint=server.endpoint,
        region="auto",
        retry_seconds=S3_RETRY_SECONDS,
        access_key=environment["AWS_ACCESS_KEY_ID"],
        secret_key=environment["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """A fresh, empty store: a temp folder, or a fresh prefix in the session's S3 bucket."""
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return make_s3_store(request.getfixturevalue("s3_server"))


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension built once per session by ``build.py`` (wheels cached in build/wheels)."""
    sys.path.insert(0, str(REPO))
    import build

    return build.build(tmp_path_factory.mktemp("dist"))


def _side_python(venv: str, make_target: str) -> Path:
    """A side interpreter made by ``make <make_target>``; its tests skip without it, except in CI, which must have it."""
    python = REPO / venv / "bin" / "python"
    if not python.is_file():
        reason = f"{python} is missing: run `make {make_target}`"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must have it)")
        pytest.skip(reason)
    return python


@pytest.fixture(scope="session")
def qa_python() -> Path:
    """The QA interpreter made by ``make qa-setup`` (MediaPipe)."""
    return _side_python(".venv-qa", "qa-setup")


@pytest.fixture(scope="session")
def characters_python() -> Path:
    """The characters interpreter made by ``make characters-setup`` (PyTorch, Anny)."""
    return _side_python(".venv-anny", "characters-setup")


_session_status = {"exit": 0}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _session_status["exit"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without running bpy's C++ static destructors once pytest has reported.

    In a long pytest session that has run hypothesis tests and then imported bpy, the bpy
    module's exit handler deadlocks (``GlobalState::~GlobalState`` waits on a condition its
    delayed-close thread still sleeps on), so the process never ends and CI would time out.
    The product's own processes (CLI, agent, background renders) exit normally; they are
    started as subprocesses by the tests and checked for their exit status.
    """
    if sys.modules.get("bpy") is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_session_status["exit"])
