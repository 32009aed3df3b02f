"""Listing jobs with some on a RunPod Serverless endpoint: `status` (and the panel) show them beside the queue's,
with the state RunPod reports until the worker writes a final status into the store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from runpod_serverless_api import RunPodServerlessAPI, endpoint_without_answers

from pose_factory_addon.cli import main
from pose_factory_addon.core.config import load_settings
from pose_factory_addon.core.errors import UsageError
from pose_factory_addon.core.manifest import JobManifest, RenderParams, new_render_manifest
from pose_factory_addon.core.queue import JobQueue
from pose_factory_addon.core.serverless import SERVERLESS, ServerlessJobs
from pose_factory_addon.core.store import LocalStore

ENDPOINT = "posefactorylist1"
API_KEY = "rp-list-test-key-0123456789"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[RunPodServerlessAPI]:
    """RunPod's API whose one worker takes a request and never answers (the request stays IN_PROGRESS)."""
    for name in ("POSE_FACTORY_STORE", "POSE_FACTORY_BACKEND", "RUNPOD_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with endpoint_without_answers(ENDPOINT, API_KEY) as front:
        monkeypatch.setenv("RUNPOD_SERVERLESS_API_BASE_URL", front.base_url)
        yield front


def _manifest(queue: JobQueue, tmp_path: Path, name: str) -> JobManifest:
    character = tmp_path / f"{name}.fbx"
    character.write_bytes(b"Kaydara FBX Binary  \x00 " + name.encode())
    ref = queue.upload_character(character)
    return new_render_manifest(RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64)))


def test_jobs_on_an_endpoint_are_listed_with_the_queue_s(
    api: RunPodServerlessAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = LocalStore(tmp_path / "store")
    queue = JobQueue(store)
    settings = load_settings({"store": (tmp_path / "store").as_uri(), "serverless_endpoint": ENDPOINT})
    serverless = ServerlessJobs(queue, settings, environ={"RUNPOD_API_KEY": API_KEY})
    queued = _manifest(queue, tmp_path, "Queued")
    queue.submit(queued)
    time.sleep(1.05)  # job ids are stamped to the second: the serverless one is the newer
    remote = _manifest(queue, tmp_path, "Remote")
    serverless.submit(remote)
    deadline = time.monotonic() + 10
    while next(iter(api.requests.values()))["status"] != "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.05)

    listed = serverless.list_jobs()
    assert [(job.job_id, job.state, job.worker) for job in listed] == [
        (remote.job_id, "processing", f"runpod:{ENDPOINT}"),
        (queued.job_id, "pending", ""),
    ]
    assert [job.job_id for job in serverless.list_jobs(states=["pending"])] == [queued.job_id]
    assert [job.job_id for job in serverless.list_jobs(limit=1)] == [remote.job_id]

    monkeypatch.setenv("RUNPOD_API_KEY", API_KEY)
    assert main(["status", "--store", store.url]) == 0
    table = capsys.readouterr().out
    assert f"{remote.job_id}  processing" in table and f"runpod:{ENDPOINT}" in table

    serverless.cancel(remote.job_id)
    calls_before = len(api.calls)
    newest = serverless.list_jobs()[0]
    assert (newest.job_id, newest.state) == (remote.job_id, "cancelled")
    assert len(api.calls) == calls_before, "a job with a final status in the store is not asked about again"


def test_a_job_whose_endpoint_cannot_be_asked_is_listed_with_the_reason(api: RunPodServerlessAPI, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    queue = JobQueue(store)
    settings = load_settings({"store": (tmp_path / "store").as_uri(), "serverless_endpoint": ENDPOINT})
    remote = _manifest(queue, tmp_path, "Remote")
    ServerlessJobs(queue, settings, environ={"RUNPOD_API_KEY": API_KEY}).submit(remote)
    store.put(f"{SERVERLESS}not-a-job.json", b"{}")  # ignored: not named by a job id

    without_key = ServerlessJobs(queue, settings, environ={})
    [job] = without_key.list_jobs()
    assert (job.job_id, job.state) == (remote.job_id, "pending")
    assert job.error == "cannot ask RunPod for this job: RUNPOD_API_KEY is not set (create an API key in the RunPod console)"
    with pytest.raises(UsageError, match="RUNPOD_API_KEY is not set"):
        without_key.check_configured()
