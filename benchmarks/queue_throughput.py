"""Queue protocol benchmark on a throwaway SeaweedFS server (loopback).

1. Claim + complete throughput: 200 jobs whose handler writes one small file, drained by 8
   agents (threads, each with its own S3 client) polling every 0.05 s.
2. Submit-to-completed latency of a 1-image render job (a sample character, 64x64, preview
   preset) with a real ``headless/agent.py`` process polling every 0.2 s: the first job pays
   for importing bpy, the second one shows the warm agent.

Run: ``python benchmarks/queue_throughput.py [--jobs 200] [--agents 8] [--skip-render]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from seaweedfs_server import SeaweedFS

from pose_factory_addon.agent import AgentOptions, ProgressCallback, run_agent
from pose_factory_addon.core.manifest import JobManifest, RenderParams, new_render_manifest
from pose_factory_addon.core.queue import JobQueue
from pose_factory_addon.core.store import S3Store

REPO_ROOT = Path(__file__).resolve().parents[1]


def _store(server: SeaweedFS, prefix: str) -> S3Store:
    environment = server.environment()
    return S3Store(
        server.bucket,
        prefix,
        endpoint=server.endpoint,
        access_key=environment["AWS_ACCESS_KEY_ID"],
        secret_key=environment["AWS_SECRET_ACCESS_KEY"],
    )


def _one_file(manifest: JobManifest, files: Mapping[str, Path], out_dir: Path, progress: ProgressCallback) -> None:
    (out_dir / "result.txt").write_text(manifest.job_id)
    progress(1, 1)


class _Quiet:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None


def throughput(server: SeaweedFS, jobs: int, agents: int, workspace: Path) -> None:
    from pose_factory_addon.agent import EventLog

    queue = JobQueue(_store(server, "throughput"), lease_seconds=30)
    character = workspace / "character.fbx"
    character.write_bytes(os.urandom(4096))
    ref = queue.upload_character(character)
    started = time.perf_counter()
    job_ids = []
    for _ in range(jobs):
        manifest = new_render_manifest(RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64)))
        queue.submit(manifest)
        job_ids.append(manifest.job_id)
    submitted = time.perf_counter() - started

    stop = threading.Event()
    counts: dict[str, int] = {}

    def agent(index: int) -> None:
        options = AgentOptions(
            worker_id=f"bench-{index}", workspace=workspace / f"agent-{index}", poll_seconds=0.05, lease_seconds=30
        )
        counts[options.worker_id] = run_agent(
            _store(server, "throughput"), options, {"render": _one_file}, stop, EventLog(options.worker_id, _Quiet())
        )

    threads = [threading.Thread(target=agent, args=(index,)) for index in range(agents)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    while len(queue.store.list("results/")) < 2 * jobs:
        time.sleep(0.05)
    drained = time.perf_counter() - started
    stop.set()
    for thread in threads:
        thread.join()
    states = {status.state for status in queue.list_jobs()}
    print(f"submit: {jobs} jobs in {submitted:.2f} s ({jobs / submitted:.1f} jobs/s, one client)")
    print(
        f"claim+complete: {jobs} jobs by {agents} agents in {drained:.2f} s = {jobs / drained:.1f} jobs/s; "
        f"states {sorted(states)}"
    )
    print(f"jobs per agent: {sorted(counts.values())}")


def render_latency(server: SeaweedFS, workspace: Path) -> None:
    characters = sorted(
        path for path in (REPO_ROOT / "samples" / "characters").glob("*") if path.suffix.lower() in (".fbx", ".glb")
    )
    if not characters:
        print("render latency: skipped (no samples/characters)")
        return
    queue = JobQueue(_store(server, "latency"))
    url = f"s3://{server.bucket}/latency"
    env = {**os.environ, **server.environment(), "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        str(REPO_ROOT / "headless" / "agent.py"),
        "--store",
        url,
        "--poll",
        "0.2",
        "--workspace",
        str(workspace / "render"),
    ]
    ref = queue.upload_character(characters[0])
    log_path = workspace / "render-agent.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for label in ("cold agent (imports bpy)", "warm agent"):
            manifest = new_render_manifest(RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64)))
            started = time.perf_counter()
            queue.submit(manifest)
            while (status := queue.status(manifest.job_id)) is None or status.state not in ("completed", "failed"):
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            seconds = [
                event["seconds"]
                for event in map(json.loads, (line for line in log_path.read_text().splitlines() if line.startswith("{")))
                if event["event"] == "job_completed" and event["job_id"] == manifest.job_id
            ]
            agent_side = seconds[0] if seconds else "?"
            print(f"submit -> {status.state}, 1-image render job, {label}: {elapsed:.2f} s (agent-side job time {agent_side} s)")
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--skip-render", action="store_true", help="only the no-render throughput")
    args = parser.parse_args()
    with SeaweedFS() as server, tempfile.TemporaryDirectory(prefix="pose-factory-bench-") as folder:
        os.environ.update(server.environment())
        print(f"SeaweedFS {server.endpoint}, {os.cpu_count()} CPUs")
        throughput(server, args.jobs, args.agents, Path(folder))
        if not args.skip_render:
            render_latency(server, Path(folder))


if __name__ == "__main__":
    main()
