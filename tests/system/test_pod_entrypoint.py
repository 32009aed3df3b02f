"""headless/pod_entrypoint.sh, the pod image's entrypoint: refuses an incomplete environment in one line, runs the
real agent (bpy renderer) in the foreground against SeaweedFS, restarts it after a crash, and on SIGTERM lets it
release its job and exits 0. agent.log holds JSON lines only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agent_processes import REPO_ROOT, environment, open_queue, wait_until

from pose_factory_addon.core.manifest import RenderParams, new_render_manifest
from pose_factory_addon.core.queue import JobQueue

ENTRYPOINT = REPO_ROOT / "headless" / "pod_entrypoint.sh"
SECRET_VALUE = "wJalrXUtnFEMI-do-not-print-me"


def _pod_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What a RunPod template gives the container, with this venv's Python (it has bpy) as the runtime."""
    base = environment(tmp_path)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": base["XDG_CONFIG_HOME"],
        "XDG_DATA_HOME": base["XDG_DATA_HOME"],
        "WORKSPACE_ROOT": str(tmp_path / "workspace"),
        "POSE_FACTORY_PYTHON": sys.executable,
        "POSE_FACTORY_STOP_POD_WHEN_IDLE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("POSE_FACTORY_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PYTHONPATH"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env


def _log_lines(tmp_path: Path) -> list[dict[str, Any]]:
    """agent.log parsed line by line: any line that is not a JSON object fails the test."""
    path = tmp_path / "workspace" / "logs" / "agent.log"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    records = [json.loads(line) for line in lines]
    assert all(isinstance(record, dict) and {"time", "event", "worker", "job_id"} <= record.keys() for record in records)
    return records


def _events(tmp_path: Path) -> list[str]:
    return [record["event"] for record in _log_lines(tmp_path)]


def test_shell_syntax_and_shellcheck() -> None:
    subprocess.run(["bash", "-n", str(ENTRYPOINT)], check=True)
    assert os.access(ENTRYPOINT, os.X_OK)
    if shutil.which("shellcheck") is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck is missing (CI installs it in .ci/run)")
        pytest.skip("shellcheck is not installed")
    result = subprocess.run(["shellcheck", str(ENTRYPOINT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("missing", "extra", "expected"),
    [
        ("POSE_FACTORY_STORE", {}, ["POSE_FACTORY_STORE is not set"]),
        ("AWS_SECRET_ACCESS_KEY", {}, ["AWS_SECRET_ACCESS_KEY is not set"]),
        (None, {"POSE_FACTORY_STORE": "file:///workspace/store"}, ["must be an s3:// URL"]),
        (None, {"POSE_FACTORY_STOP_POD_WHEN_IDLE": "10"}, ["RUNPOD_POD_ID is not set", "RUNPOD_API_KEY is not set"]),
        (None, {"AWS_SECRET_ACCESS_KEY": "{{ RUNPOD_SECRET_aws_secret_access_key }}"}, ["refers to a RunPod secret"]),
        (None, {"POSE_FACTORY_PYTHON": "/nonexistent/python3"}, ["was not found"]),
    ],
)
def test_an_incomplete_environment_is_one_line_and_exit_2(
    tmp_path: Path, missing: str | None, extra: dict[str, str], expected: list[str]
) -> None:
    env = _pod_environment(
        tmp_path, POSE_FACTORY_STORE="s3://poses/queue", AWS_ACCESS_KEY_ID=SECRET_VALUE, AWS_SECRET_ACCESS_KEY=SECRET_VALUE
    )
    env.update(extra)
    if missing:
        del env[missing]
    result = subprocess.run(["bash", str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("pod_entrypoint: cannot start the agent: ")
    assert all(text in line for text in expected), line
    assert SECRET_VALUE not in result.stdout + result.stderr
    assert _events(tmp_path) == ["entrypoint_refused"]
    assert SECRET_VALUE not in (tmp_path / "workspace" / "logs" / "agent.log").read_text()


def _submit(queue: JobQueue, character: Path, angles: int, frames: str = "1") -> str:
    ref = queue.upload_character(character)
    manifest = new_render_manifest(
        RenderParams(characters=(ref,), angles=angles, frames=frames, preset="preview", resolution=(64, 64))
    )
    queue.submit(manifest)
    return manifest.job_id


def _sample_character() -> Path:
    return sorted(path for path in (REPO_ROOT / "samples" / "characters").iterdir() if path.suffix.lower() == ".glb")[0]


@pytest.mark.slow
@pytest.mark.s3
@pytest.mark.bpy
def test_runs_the_agent_in_the_foreground_and_releases_the_lease_on_sigterm(s3_url: str, tmp_path: Path) -> None:
    queue = open_queue(s3_url, lease_seconds=30.0)
    small = _submit(queue, _sample_character(), angles=1)
    env = _pod_environment(tmp_path, POSE_FACTORY_STORE=s3_url, POSE_FACTORY_LEASE_SECONDS="30", POSE_FACTORY_POLL_INTERVAL="0.5")
    console = tmp_path / "console.log"  # the container log: the agent's stderr and Blender's output
    with open(console, "wb") as sink:
        entrypoint = subprocess.Popen(
            ["bash", str(ENTRYPOINT), "--worker-id", "entrypoint-test"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        wait_until(lambda: (status := queue.status(small)) is not None and status.state == "completed", 180, "the small job")
        # Submitted only now: agents pick among the oldest pending jobs at random, so order is not a given.
        large = _submit(queue, _sample_character(), angles=72, frames="all")  # thousands of images: still running at SIGTERM
        wait_until(
            lambda: any(r["event"] == "job_progress" and r["job_id"] == large for r in _log_lines(tmp_path)), 120, "progress"
        )
        assert entrypoint.poll() is None, "the entrypoint must stay in the foreground while the agent runs"
        assert queue.held_leases() == {large: "entrypoint-test"}
        entrypoint.send_signal(signal.SIGTERM)
        assert entrypoint.wait(timeout=120) == 0
    finally:
        if entrypoint.poll() is None:
            entrypoint.kill()
            entrypoint.wait()
    output = console.read_text(errors="replace")
    events = _events(tmp_path)
    assert events[:3] == ["entrypoint_started", "no_gpu_visible", "agent_started"], output[-3000:]
    assert "job_completed" in events and "job_released" in events
    assert events[-3:] == ["stop_requested", "agent_stopped", "entrypoint_stopped"] or events[-2:] == [
        "agent_stopped",
        "entrypoint_stopped",
    ]
    assert _log_lines(tmp_path)[-2]["reason"] == "signal"
    assert queue.held_leases() == {}
    status = queue.status(large)
    assert status is not None and status.state == "pending" and status.worker == "" and status.attempts == 0  # given back
    assert os.environ.get("AWS_SECRET_ACCESS_KEY", "unset") not in output
    _documented_jq_recipes_work(tmp_path / "workspace" / "logs", small)


def _documented_jq_recipes_work(logs: Path, job_id: str) -> None:
    """Each `jq` line of docs/operations.md's recipes runs on this agent.log; the one-job filter finds the job."""
    if shutil.which("jq") is None:
        if os.environ.get("CI"):
            pytest.fail("jq is missing (CI installs it in .ci/run)")
        return
    doc = (REPO_ROOT / "docs" / "operations.md").read_text()
    block = doc[doc.index("`jq` recipes:") :].split("```")[1]
    recipes = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip().startswith("jq ")]
    assert len(recipes) >= 4
    for recipe in recipes:
        command = re.sub(r"render_\d{8}_\d{6}_[0-9a-f]{8}", job_id, recipe)
        result = subprocess.run(["bash", "-c", command], cwd=logs, capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, f"{recipe}: {result.stderr}"
        if job_id in command:
            assert job_id in result.stdout and "job_completed" in result.stdout


@pytest.mark.s3
def test_a_crashing_agent_is_restarted_with_growing_delays_and_sigterm_ends_the_wait(s3_url: str, tmp_path: Path) -> None:
    env = _pod_environment(
        tmp_path,
        POSE_FACTORY_STORE=s3_url,
        POSE_FACTORY_S3_ENDPOINT="not-a-url",  # a setting the agent refuses at start: exit 1, a "crash"
        POSE_FACTORY_RESTART_DELAY="0.2",
    )
    entrypoint = subprocess.Popen(["bash", str(ENTRYPOINT)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _events(tmp_path).count("agent_exited") >= 3, 60, "three restarts")
        entrypoint.send_signal(signal.SIGTERM)
        assert entrypoint.wait(timeout=30) == 0
    finally:
        if entrypoint.poll() is None:
            entrypoint.kill()
            entrypoint.wait()
    exits = [record for record in _log_lines(tmp_path) if record["event"] == "agent_exited"]
    assert [record["restart_in_s"] for record in exits[:3]] == [0.2, 0.4, 0.8]
    assert all(record["status"] == 1 for record in exits)
    assert _events(tmp_path)[-1] == "entrypoint_stopped"
