"""Real agent processes against LocalStore and SeaweedFS: crashes, signals, hostile input, outages.

Agents run ``tests/system/protocol_agent.py`` (the shipped agent with a handler that writes
fake images) with a 3 s lease and a 0.2 s poll, so takeovers happen within seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from agent_processes import PROTOCOL_AGENT, REPO_ROOT, Agent, environment, open_queue, submit_jobs, wait_until

from pose_factory_addon.core.character_files import FBX_BINARY_MAGIC
from pose_factory_addon.core.manifest import new_job_id
from pose_factory_addon.core.queue import JobQueue, complete_key, pending_key

pytestmark = [pytest.mark.slow]
FAST = ("--poll", "0.2", "--lease-seconds", "3")


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return (tmp_path / "store").as_uri()
    return str(request.getfixturevalue("s3_url"))


@pytest.fixture
def character(tmp_path: Path) -> Path:
    path = tmp_path / "X Bot.fbx"
    path.write_bytes(FBX_BINARY_MAGIC + os.urandom(2048))  # passes submit's content check; the test handlers never import it
    return path


def _states(queue: JobQueue, job_ids: list[str]) -> dict[str, str]:
    return {job_id: status.state if (status := queue.status(job_id)) else "missing" for job_id in job_ids}


def _cli(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pose_factory_addon.cli", *arguments],
        capture_output=True,
        text=True,
        env=environment(tmp_path),
        cwd=tmp_path,
        timeout=120,
    )


def _all_completed(queue: JobQueue, job_ids: list[str]) -> bool:
    return set(_states(queue, job_ids).values()) == {"completed"}


def test_twelve_jobs_three_agents_one_killed_every_job_completes_exactly_once(
    store_url: str, tmp_path: Path, character: Path
) -> None:
    queue = open_queue(store_url)
    job_ids = submit_jobs(queue, character, 12)
    finished_log = tmp_path / "finished.log"
    env = environment(
        tmp_path, {"PROTOCOL_IMAGES": "3", "PROTOCOL_IMAGE_SECONDS": "0.4", "PROTOCOL_FINISHED_LOG": str(finished_log)}
    )
    agents = [Agent(PROTOCOL_AGENT, store_url, tmp_path, f"agent-{index}", env, *FAST) for index in range(3)]
    victim = agents[0]
    try:
        started = victim.wait_for_event(lambda event: event["event"] == "job_progress", timeout=60)
        victim.kill()
        killed_job = started["job_id"]
        wait_until(lambda: _all_completed(queue, job_ids), 120, "every job to complete")
        for agent in agents[1:]:
            assert agent.terminate() == 0, agent.log_path.read_text()[-2000:]
    finally:
        for agent in agents:
            if agent.process.poll() is None:
                agent.kill()

    runs = Counter(line.split()[0] for line in finished_log.read_text().splitlines())
    assert runs == Counter(dict.fromkeys(job_ids, 1)), "every job ran to completion exactly once"
    commits = Counter(
        event["job_id"]
        for agent in agents
        for event in agent.events()
        if event["event"] == "job_completed" and event["committed"]
    )
    assert commits == Counter(dict.fromkeys(job_ids, 1))
    for job_id in job_ids:
        expected = [complete_key(job_id), *(f"results/{job_id}/X_Bot/view_{index}.png" for index in range(3))]
        assert queue.store.list(f"results/{job_id}/") == sorted(expected)
    takeover = [
        event
        for agent in agents[1:]
        for event in agent.events()
        if event["event"] == "job_claimed" and event["job_id"] == killed_job
    ]
    assert takeover and takeover[-1]["taken_over_from"] == "agent-0" and takeover[-1]["attempt"] == 2
    killed_status = queue.status(killed_job)
    assert killed_status is not None and killed_status.attempts == 2 and killed_status.worker != "agent-0"
    assert {status.attempts for job_id in job_ids if job_id != killed_job and (status := queue.status(job_id))} == {1}
    assert queue.pending_keys() == [] and queue.store.list("jobs/processing/") == []

    listed = _cli(tmp_path, "status", "--json", "--store", store_url)
    assert listed.returncode == 0, listed.stderr
    by_id = {job["job_id"]: job for job in json.loads(listed.stdout)}
    assert by_id[killed_job]["attempts"] == 2 and by_id[killed_job]["state"] == "completed"
    assert all(
        {"job_id", "state", "attempts", "worker", "progress", "error", "created_at"} <= job.keys() for job in by_id.values()
    )


def test_sigterm_releases_the_running_job_and_another_agent_finishes_it(tmp_path: Path, character: Path) -> None:
    url = (tmp_path / "store").as_uri()
    queue = open_queue(url)
    (job_id,) = submit_jobs(queue, character, 1)
    env = environment(tmp_path, {"PROTOCOL_IMAGES": "50", "PROTOCOL_IMAGE_SECONDS": "0.2"})
    first = Agent(PROTOCOL_AGENT, url, tmp_path, "first", env, *FAST)
    first.wait_for_event(lambda event: event["event"] == "job_progress", timeout=60)
    assert first.terminate(timeout=15) == 0
    assert any(event["event"] == "job_released" for event in first.events())
    status = queue.status(job_id)
    assert status is not None and status.state == "pending" and status.attempts == 0
    assert queue.store.list("jobs/processing/") != [] and queue.store.list(f"results/{job_id}/") == []

    second = Agent(PROTOCOL_AGENT, url, tmp_path, "second", environment(tmp_path, {"PROTOCOL_IMAGES": "2"}), "--once", *FAST)
    assert second.process.wait(timeout=60) == 0
    status = queue.status(job_id)
    assert status is not None and status.state == "completed" and status.attempts == 1


def _hostile(queue: JobQueue, valid_json: str) -> dict[str, str]:
    """Drop hostile files straight into jobs/pending/; returns {key: expected error text}."""
    expectations = {}
    old = datetime(2020, 1, 1, tzinfo=UTC)
    variants = {
        "may not name code": lambda data: data.update(script="https://evil.example/payload.py"),
        "unknown job_type": lambda data: data.update(job_type="shell"),
        "is not a safe name": lambda data: data["params"]["characters"][0].update(name="../../etc/passwd"),
        "invalid job id '../../x'": lambda data: data.update(job_id="../../x"),
    }
    for expected, change in variants.items():
        data = json.loads(valid_json)
        job_id = new_job_id("render", old)
        data["job_id"] = job_id
        change(data)
        queue.store.put(pending_key(job_id), json.dumps(data).encode())
        expectations[job_id] = expected
    queue.store.put("jobs/pending/evil.json", json.dumps(dict(json.loads(valid_json), job_id="../../x")).encode())
    return expectations


def test_hostile_manifests_are_failed_or_rejected_and_the_next_job_completes(
    store_url: str, tmp_path: Path, character: Path
) -> None:
    queue = open_queue(store_url)
    (valid_id,) = submit_jobs(queue, character, 1)
    stored = queue.store.get(pending_key(valid_id))
    assert stored is not None
    expectations = _hostile(queue, stored.data.decode())

    agent = Agent(PROTOCOL_AGENT, store_url, tmp_path, "agent", environment(tmp_path), "--once", *FAST)
    assert agent.process.wait(timeout=60) == 0, agent.log_path.read_text()[-2000:]

    for job_id, expected in expectations.items():
        status = queue.status(job_id)
        assert status is not None and status.state == "failed", (job_id, status)
        assert status.error.startswith("invalid manifest:") and expected in status.error
    valid = queue.status(valid_id)
    assert valid is not None and valid.state == "completed"
    assert queue.pending_keys() == [], "nothing may stay stuck in jobs/pending/"
    assert not any(path.name == "passwd" for path in tmp_path.rglob("*"))

    listed = _cli(tmp_path, "status", "--json", "--store", store_url)
    assert listed.returncode == 0, listed.stderr
    rejected = [job for job in json.loads(listed.stdout) if job["state"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["job_id"].startswith("evil-") and "invalid job id" in rejected[0]["error"]


def test_cli_round_trip_and_hostile_downloads(tmp_path: Path, character: Path) -> None:
    url = (tmp_path / "store").as_uri()
    submitted = _cli(
        tmp_path, "submit", str(character), "--angles", "1", "--preset", "preview", "--resolution", "64x64", "--store", url
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    assert "estimate: 1 images" in submitted.stderr

    agent = Agent(PROTOCOL_AGENT, url, tmp_path, "agent", environment(tmp_path), "--once", *FAST)
    assert agent.process.wait(timeout=60) == 0
    assert _cli(tmp_path, "wait", job_id, "--timeout", "10", "--store", url).returncode == 0
    downloaded = _cli(tmp_path, "download", job_id, "--store", url)
    assert downloaded.returncode == 0, downloaded.stderr
    target = tmp_path / "data" / "working" / job_id
    assert sorted(path.relative_to(target).as_posix() for path in target.rglob("*") if path.is_file()) == [
        "X_Bot/view_0.png",
        "X_Bot/view_1.png",
        "X_Bot/view_2.png",
        "_complete.json",
    ]

    queue = open_queue(url)
    stored = queue.store.get(complete_key(job_id))
    assert stored is not None
    record = json.loads(stored.data)
    before = sorted(path for path in tmp_path.rglob("*") if "store" not in path.parts)

    escaping = dict(record, files=[*record["files"], {"path": "../../evil.txt", "size": 3, "sha256": "0" * 64}])
    queue.store.put(complete_key(job_id), json.dumps(escaping).encode())
    refused = _cli(tmp_path, "download", job_id, "--out", str(tmp_path / "escape"), "--store", url)
    assert refused.returncode == 1 and "unsafe" in refused.stderr and "Traceback" not in refused.stderr

    queue.store.put(complete_key(job_id), json.dumps(record).encode())
    queue.store.put(f"results/{job_id}/X_Bot/view_1.png", b"tampered")
    corrupt = _cli(tmp_path, "download", job_id, "--out", str(tmp_path / "corrupt"), "--store", url)
    assert corrupt.returncode == 1 and "checksum mismatch for X_Bot/view_1.png" in corrupt.stderr
    assert sorted(path for path in tmp_path.rglob("*") if "store" not in path.parts) == before, "nothing was written anywhere"

    malformed = _cli(tmp_path, "download", "../../x", "--store", url)
    assert malformed.returncode == 2 and malformed.stderr.count("\n") == 1 and "invalid job id" in malformed.stderr
    assert _cli(tmp_path, "cancel", job_id, "--store", url).returncode == 1


@pytest.mark.s3
def test_restarting_the_s3_server_mid_job_does_not_lose_the_job(s3_server, s3_url: str, tmp_path: Path, character: Path) -> None:
    queue = open_queue(s3_url)
    (job_id,) = submit_jobs(queue, character, 1)
    env = environment(tmp_path, {"PROTOCOL_IMAGES": "12", "PROTOCOL_IMAGE_SECONDS": "0.25"})
    agent = Agent(PROTOCOL_AGENT, s3_url, tmp_path, "agent", env, *FAST)
    try:
        agent.wait_for_event(lambda event: event["event"] == "job_progress", timeout=60)
        s3_server.restart(down_seconds=2.0)
        wait_until(lambda: _all_completed(queue, [job_id]), 90, "the job to complete after the restart")
        assert agent.terminate() == 0
    finally:
        if agent.process.poll() is None:
            agent.kill()
    status = queue.status(job_id)
    assert status is not None and status.state == "completed" and status.attempts in (1, 2)
    assert queue.completion(job_id) is not None and len(queue.completion(job_id) or []) == 12


@pytest.mark.bpy
def test_headless_agent_renders_a_real_job(tmp_path: Path) -> None:
    character = sorted(
        path for path in (REPO_ROOT / "samples" / "characters").iterdir() if path.suffix.lower() in (".fbx", ".glb")
    )[0]
    url = (tmp_path / "store").as_uri()
    submitted = _cli(
        tmp_path, "submit", str(character), "--angles", "1", "--preset", "preview", "--resolution", "64x64", "--store", url
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    agent = subprocess.run(
        [sys.executable, str(REPO_ROOT / "headless" / "agent.py"), "--store", url, "--once", "--workspace", str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        env=environment(tmp_path),
        timeout=600,
    )
    assert agent.returncode == 0, agent.stderr[-3000:]
    downloaded = _cli(tmp_path, "download", job_id, "--out", str(tmp_path / "out"), "--store", url)
    assert downloaded.returncode == 0, downloaded.stderr + agent.stderr[-3000:]
    images = list((tmp_path / "out").rglob("*.png"))
    assert len(images) == 1
    assert (tmp_path / "out" / "coco_keypoints.json").is_file() and (tmp_path / "out" / "dataset.json").is_file()
    assert json.loads((tmp_path / "out" / "dataset.json").read_text()).get("failures") == []


def test_headless_launcher_parses_arguments_after_the_double_dash(tmp_path: Path) -> None:
    url = (tmp_path / "store").as_uri()
    launcher = [sys.executable, str(REPO_ROOT / "headless" / "agent.py")]
    common = ["--store", url, "--workspace", str(tmp_path / "ws")]
    empty = subprocess.run(
        [*launcher, "--", *common, "--once"], capture_output=True, text=True, env=environment(tmp_path), timeout=60
    )
    assert empty.returncode == 0, empty.stderr
    events = [json.loads(line) for line in empty.stderr.splitlines()]
    assert [event["event"] for event in events] == ["agent_started", "agent_stopped"]
    assert all("job_id" in event and event["worker"] for event in events)
    device = events[0]["render_device"]  # the real render handler: the agent says what it renders on
    assert device["device"] in ("CPU", "GPU") and device["backend"] and isinstance(device["gpus"], list)
    bad = subprocess.run(
        [*launcher, *common, "--worker-id", "../x"], capture_output=True, text=True, env=environment(tmp_path), timeout=60
    )
    assert bad.returncode == 2 and "worker-id" in bad.stderr and "Traceback" not in bad.stderr
