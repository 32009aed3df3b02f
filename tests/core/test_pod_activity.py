"""What a pod's agents are doing (leases and agent records in a real store), and `pods terminate` refusing a busy pod.

RunPod is the local GraphQL server of tests/runpod_server.py; the store is a local folder and SeaweedFS.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from runpod_server import POD_ID, RunPodServer

from pose_factory_addon.cli import main
from pose_factory_addon.core.config import load_settings
from pose_factory_addon.core.errors import PodBusy, PodError
from pose_factory_addon.core.manifest import RenderParams, new_render_manifest
from pose_factory_addon.core.pod_activity import AgentPresence, AgentRecord, pod_activity, presence_key, terminate_pod
from pose_factory_addon.core.pods import RunPodClient, agent_env
from pose_factory_addon.core.queue import JobQueue
from pose_factory_addon.core.store import ObjectStore

OTHER_POD = "8f3kq0zt2mxa1c"


def _queue_with_claimed_job(store: ObjectStore, tmp_path: Path, worker_id: str) -> tuple[JobQueue, str]:
    queue = JobQueue(store, lease_seconds=60.0)
    character = tmp_path / "Bot.fbx"
    character.write_bytes(os.urandom(256))
    ref = queue.upload_character(character)
    manifest = new_render_manifest(RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64)))
    queue.submit(manifest)
    (key,) = queue.pending_keys()
    lease = queue.claim(key, worker_id)
    assert lease is not None
    return queue, manifest.job_id


def test_a_lease_held_by_an_agent_of_the_pod_makes_it_busy(store: ObjectStore, tmp_path: Path) -> None:
    queue, job_id = _queue_with_claimed_job(store, tmp_path, f"{POD_ID}-41")
    activity = pod_activity(queue, POD_ID)
    assert (activity.state, activity.job_ids, activity.busy) == ("working", (job_id,), True)
    assert pod_activity(queue, OTHER_POD).state == "unknown"


def test_idle_time_comes_from_the_agent_record(store: ObjectStore) -> None:
    queue = JobQueue(store)
    wall = [1000.0]
    presence = AgentPresence(store, f"{POD_ID}-7", POD_ID, refresh_s=60.0, stop_when_idle_s=600.0, clock=lambda: wall[0])
    presence.set("idle")
    activity = pod_activity(queue, POD_ID, now=1090.0)
    assert (activity.state, activity.idle_seconds, activity.stops_after_seconds) == ("idle", 90.0, 600.0)
    # a record not rewritten for three refresh periods belongs to a dead agent
    assert pod_activity(queue, POD_ID, now=1181.0).state == "unknown"
    presence.set("stopped", reason="idle")
    stopped = pod_activity(queue, POD_ID, now=5000.0)
    assert (stopped.state, stopped.reason) == ("stopped", "idle")


def test_records_that_are_not_records_are_ignored(store: ObjectStore) -> None:
    store.put(presence_key(f"{POD_ID}-1"), b'{"worker_id": "../x", "state": "idle"}')
    store.put(presence_key(f"{POD_ID}-2"), b"not json")
    assert pod_activity(JobQueue(store), POD_ID).state == "unknown"
    assert AgentRecord.parse(b'{"worker_id": "w", "state": "asleep", "since": 1, "updated_at": 1, "refresh_s": 1}') is None


def test_terminate_refuses_a_busy_pod_unless_forced(store: ObjectStore, tmp_path: Path, runpod_server: RunPodServer) -> None:
    queue, job_id = _queue_with_claimed_job(store, tmp_path, f"{POD_ID}-41")
    client = RunPodClient("k", runpod_server.base_url, timeout=5.0)
    with pytest.raises(PodBusy, match=job_id) as refused:
        terminate_pod(client, queue, POD_ID)
    assert refused.value.job_ids == [job_id]
    assert runpod_server.operations("podTerminate") == []
    terminate_pod(client, queue, OTHER_POD)
    terminate_pod(client, queue, POD_ID, force=True)
    assert runpod_server.operations("podTerminate") == [{"input": {"podId": OTHER_POD}}, {"input": {"podId": POD_ID}}]
    assert set(runpod_server.pods) == set()


def test_terminate_without_a_store_needs_force(runpod_server: RunPodServer) -> None:
    client = RunPodClient("k", runpod_server.base_url, timeout=5.0)
    with pytest.raises(PodError, match="--force"):
        terminate_pod(client, None, POD_ID)
    assert runpod_server.operations("podTerminate") == []


@pytest.fixture
def cli_environment(runpod_server: RunPodServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("POSE_FACTORY_", "RUNPOD_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("RUNPOD_API_BASE_URL", runpod_server.base_url)
    monkeypatch.setenv("RUNPOD_API_KEY", "k")


def test_cli_terminate_refuses_busy_pod_and_lists_its_job(
    cli_environment: None, tmp_path: Path, runpod_server: RunPodServer, capsys: pytest.CaptureFixture[str]
) -> None:
    store_dir = tmp_path / "store"
    from pose_factory_addon.core.store import LocalStore

    _queue, job_id = _queue_with_claimed_job(LocalStore(store_dir), tmp_path, f"{POD_ID}-41")
    url = store_dir.as_uri()
    assert main(["pods", "terminate", POD_ID, "--yes", "--store", url]) == 1
    assert f"pod {POD_ID} is working on {job_id}" in capsys.readouterr().err
    assert main(["pods", "terminate", POD_ID, "--store", url, "--force"]) == 2  # no terminal to confirm on
    assert "not terminated" in capsys.readouterr().err
    assert runpod_server.operations("podTerminate") == []
    assert main(["pods", "list", "--store", url, "--json"]) == 0
    listed = {pod["id"]: pod for pod in json.loads(capsys.readouterr().out)}
    assert listed[POD_ID]["agent"]["state"] == "working" and listed[POD_ID]["agent"]["job_ids"] == [job_id]
    assert listed[POD_ID]["cost_per_hr"] == 0.39 and listed[POD_ID]["uptime_seconds"] == 3725
    assert main(["pods", "list", "--store", url]) == 0
    assert f"working {job_id}" in capsys.readouterr().out
    assert main(["pods", "terminate", POD_ID, "--store", url, "--force", "--yes"]) == 0
    assert f"terminated pod {POD_ID}" in capsys.readouterr().out
    assert runpod_server.operations("podTerminate") == [{"input": {"podId": POD_ID}}]


def test_agent_env_passes_session_token_and_stability_key_when_set() -> None:
    settings = load_settings(environ={"POSE_FACTORY_STORE": "s3://poses/queue"})
    local = {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "tok", "STABILITY_API_KEY": "sk"}
    env = agent_env(settings, environ=local)
    assert (env["AWS_SESSION_TOKEN"], env["STABILITY_API_KEY"]) == ("tok", "sk")
    referenced = agent_env(settings, environ=local, use_runpod_secrets=True)
    assert referenced["AWS_SESSION_TOKEN"] == "{{ RUNPOD_SECRET_aws_session_token }}"
    assert referenced["STABILITY_API_KEY"] == "{{ RUNPOD_SECRET_stability_api_key }}"
    bare = agent_env(settings, environ={"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"})
    assert "AWS_SESSION_TOKEN" not in bare and "STABILITY_API_KEY" not in bare
