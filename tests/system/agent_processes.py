"""Start agent processes, read their JSON logs, and queue jobs, for the system tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pose_factory_addon.core.config import load_settings
from pose_factory_addon.core.manifest import RenderParams, new_render_manifest
from pose_factory_addon.core.queue import JobQueue
from pose_factory_addon.core.store import open_store

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_AGENT = Path(__file__).with_name("protocol_agent.py")
HEADLESS_AGENT = REPO_ROOT / "headless" / "agent.py"


def environment(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment (S3 endpoint and credentials included) with isolated user folders."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("POSE_FACTORY_") or key == "POSE_FACTORY_S3_ENDPOINT"
    }
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config-home"),
        XDG_DATA_HOME=str(tmp_path / "data-home"),
        PYTHONUNBUFFERED="1",
        **(extra or {}),
    )
    return env


def open_queue(url: str, lease_seconds: float = 2.0) -> JobQueue:
    settings = load_settings({"store": url, "lease_seconds": lease_seconds})
    return JobQueue(open_store(url, settings), max_attempts=settings.max_attempts, lease_seconds=lease_seconds)


def submit_jobs(queue: JobQueue, character: Path, count: int) -> list[str]:
    ref = queue.upload_character(character)
    job_ids = []
    for _ in range(count):
        manifest = new_render_manifest(RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64)))
        queue.submit(manifest)
        job_ids.append(manifest.job_id)
    return job_ids


class Agent:
    """One agent process; its JSON log lines go to a file the test can read."""

    def __init__(self, script: Path, url: str, tmp_path: Path, name: str, env: dict[str, str], *options: str) -> None:
        self.name = name
        self.log_path = tmp_path / f"{name}.log"
        command = [
            sys.executable,
            str(script),
            "--store",
            url,
            "--worker-id",
            name,
            "--workspace",
            str(tmp_path / f"workspace-{name}"),
            *options,
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)

    def events(self) -> list[dict[str, Any]]:
        records = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        return records

    def wait_for_event(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if predicate(event):
                    return event
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name} never logged the expected event; log:\n{self.log_path.read_text()[-3000:]}")

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
