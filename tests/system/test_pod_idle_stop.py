"""A real agent process on a "pod" (RUNPOD_POD_ID set) stops its own pod through RunPod's API once it has no work.

RunPod is the local GraphQL server of tests/runpod_server.py; the store is SeaweedFS; the agent is
tests/system/protocol_agent.py (the shipped agent loop with a handler that needs no rendering).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from agent_processes import PROTOCOL_AGENT, Agent, environment, open_queue, submit_jobs, wait_until
from runpod_server import POD_ID, RunPodServer

pytestmark = [pytest.mark.slow, pytest.mark.s3]
IDLE_MINUTES = "0.03"  # 1.8 s: shorter than the job below, so a stop during the job would show
POLL = ("--poll", "0.2", "--lease-seconds", "3")


@pytest.fixture
def pod_env(tmp_path: Path, runpod_server: RunPodServer) -> dict[str, str]:
    return environment(
        tmp_path,
        {
            "RUNPOD_POD_ID": POD_ID,
            "RUNPOD_API_KEY": "rpa_pod_scoped_key",
            "RUNPOD_API_BASE_URL": runpod_server.base_url,
            "PROTOCOL_IMAGES": "4",
            "PROTOCOL_IMAGE_SECONDS": "0.8",
        },
    )


@pytest.fixture
def character(tmp_path: Path) -> Path:
    path = tmp_path / "Bot.fbx"
    path.write_bytes(os.urandom(1024))
    return path


def test_one_pod_stop_after_the_queue_empties_and_none_during_the_job(
    s3_url: str, tmp_path: Path, pod_env: dict[str, str], runpod_server: RunPodServer, character: Path
) -> None:
    queue = open_queue(s3_url)
    (job_id,) = submit_jobs(queue, character, 1)
    agent = Agent(PROTOCOL_AGENT, s3_url, tmp_path, "pod-agent", pod_env, *POLL, "--stop-pod-when-idle", IDLE_MINUTES)
    try:
        agent.wait_for_event(lambda event: event["event"] == "job_progress" and event["done"] == 3, timeout=60)
        assert runpod_server.operations("podStop") == [], "the pod was stopped while its agent worked"
        assert agent.process.wait(timeout=60) == 0
    finally:
        if agent.process.poll() is None:
            agent.kill()
    events = agent.events()
    names = [event["event"] for event in events]
    assert names.count("pod_stop_requested") == 1 and "pod_stopping" in names
    assert names.index("job_completed") < names.index("pod_stop_requested")
    request = next(event for event in events if event["event"] == "pod_stop_requested")
    assert request["pod_id"] == POD_ID and request["reason"] == "idle" and "no job for" in request["why"]
    assert events[-1]["event"] == "agent_stopped" and events[-1]["reason"] == "idle"
    assert runpod_server.operations("podStop") == [{"input": {"podId": POD_ID}}]
    stop_request = next(request for request in runpod_server.requests if "podStop" in request["body"]["query"])
    assert stop_request["headers"]["Authorization"] == "Bearer rpa_pod_scoped_key"
    completed = next(event for event in events if event["event"] == "job_completed")
    assert stop_request["time"] - completed["time"] >= 1.8 * 0.9
    status = queue.status(job_id)
    assert status is not None and status.state == "completed"
    assert queue.held_leases() == {}
    worker = events[0]["worker"]
    assert worker == f"{POD_ID}-pod-agent"  # on a pod, worker ids start with the pod id
    record = queue.store.get(f"agents/{worker}.json")
    assert record is not None and json.loads(record.data)["state"] == "stopped"


def test_max_jobs_stops_the_pod_once_the_last_job_is_committed(
    s3_url: str, tmp_path: Path, pod_env: dict[str, str], runpod_server: RunPodServer, character: Path
) -> None:
    queue = open_queue(s3_url)
    job_ids = submit_jobs(queue, character, 2)
    env = {**pod_env, "PROTOCOL_IMAGES": "1", "PROTOCOL_IMAGE_SECONDS": "0.1", "POSE_FACTORY_STOP_POD_WHEN_IDLE": "30"}
    agent = Agent(PROTOCOL_AGENT, s3_url, tmp_path, "pod-agent", env, *POLL, "--max-jobs", "1")
    try:
        assert agent.process.wait(timeout=60) == 0
    finally:
        if agent.process.poll() is None:
            agent.kill()
    events = agent.events()
    assert [event["reason"] for event in events if event["event"] == "pod_stop_requested"] == ["max_jobs"]
    assert runpod_server.operations("podStop") == [{"input": {"podId": POD_ID}}]
    assert sorted(status.state for job_id in job_ids if (status := queue.status(job_id))) == ["completed", "pending"]


def test_a_failed_stop_is_logged_and_the_agent_keeps_serving(
    s3_url: str, tmp_path: Path, pod_env: dict[str, str], runpod_server: RunPodServer
) -> None:
    runpod_server.mode = "unauthorized"
    agent = Agent(PROTOCOL_AGENT, s3_url, tmp_path, "pod-agent", pod_env, *POLL, "--stop-pod-when-idle", "0.01")
    try:
        failed = agent.wait_for_event(lambda event: event["event"] == "pod_stop_failed", timeout=30)
        assert "rejected the API key" in failed["error"] and "rpa_pod_scoped_key" not in json.dumps(failed)
        wait_until(lambda: len(runpod_server.operations("podStop")) >= 2, 30, "a second stop attempt")
        assert agent.terminate() == 0
    finally:
        if agent.process.poll() is None:
            agent.kill()
    assert agent.events()[-1]["reason"] == "signal"


def test_idle_stop_off_pod_is_refused_at_start(s3_url: str, tmp_path: Path) -> None:
    env = environment(tmp_path)
    agent = Agent(PROTOCOL_AGENT, s3_url, tmp_path, "off-pod", env, *POLL, "--stop-pod-when-idle", "5")
    assert agent.process.wait(timeout=60) == 2
    output = agent.log_path.read_text()
    assert "RUNPOD_POD_ID and RUNPOD_API_KEY" in output and "Traceback" not in output
