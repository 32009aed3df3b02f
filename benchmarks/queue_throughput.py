"""Queue protocol benchmark on a throwaway SeaweedFS server (loopback).

Prints three figures:

1. **Claim throughput**: ``--jobs`` no-render jobs (the handler writes one small file) drained by
   ``--agents`` real agent *processes* (``tests/system/protocol_agent.py``: the shipped agent loop
   with a handler that does not render), polling every 0.05 s. Jobs per second over the whole drain
   and over the steady part (first to last completion).
2. **Requests per job**: every S3 request the submitter and the agents sent, divided by the jobs
   (agents report their count when they stop), and the exact path of one job through one agent.
3. **Status of ``--status-jobs`` jobs**: the store is topped up with pending jobs, then
   ``pose-factory status --json`` (a fresh process, as a user runs it) and the in-process listing
   are timed, ``--repeat`` times each, interleaved.

Optionally (``--render``) the submit-to-completed latency of a 1-image render job with a real
``headless/agent.py``.

Run: ``python benchmarks/queue_throughput.py [--jobs 1000] [--agents 16] [--status-jobs 5000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from seaweedfs_server import SeaweedFS

from pose_factory_addon.core.manifest import CharacterRef, RenderParams, new_render_manifest
from pose_factory_addon.core.queue import STATUS, JobQueue
from pose_factory_addon.core.store import S3Store

REPO_ROOT = Path(__file__).resolve().parents[1]
PROTOCOL_AGENT = REPO_ROOT / "tests" / "system" / "protocol_agent.py"


def _store(server: SeaweedFS, prefix: str) -> S3Store:
    environment = server.environment()
    return S3Store(
        server.bucket,
        prefix,
        endpoint=server.endpoint,
        access_key=environment["AWS_ACCESS_KEY_ID"],
        secret_key=environment["AWS_SECRET_ACCESS_KEY"],
    )


def _submit_many(queue: JobQueue, ref: CharacterRef, count: int, threads: int = 8) -> None:
    params = RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda _index: queue.submit(new_render_manifest(params)), range(count)))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(server: SeaweedFS) -> float:
    """CPU seconds the SeaweedFS process has used (Linux /proc; 0 elsewhere)."""
    process = server._process
    try:
        fields = Path(f"/proc/{process.pid if process else 0}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line.startswith("{")]


def throughput(server: SeaweedFS, prefix: str, jobs: int, agents: int, workspace: Path) -> CharacterRef:
    queue = JobQueue(_store(server, prefix), lease_seconds=30)
    character = workspace / "character.fbx"
    character.write_bytes(os.urandom(4096))
    ref = queue.upload_character(character)
    before = queue.store.requests_sent
    started = time.perf_counter()
    _submit_many(queue, ref, jobs)
    submitted = time.perf_counter() - started
    submit_requests = queue.store.requests_sent - before

    env = {
        **os.environ,
        **server.environment(),
        "PYTHONUNBUFFERED": "1",
        "PROTOCOL_IMAGES": "1",
        "PROTOCOL_IMAGE_SECONDS": "0",
    }
    url = f"s3://{server.bucket}/{prefix}"
    processes = []
    logs = []
    children_before = _children_cpu()
    server_before = _process_cpu(server)
    started = time.perf_counter()
    for index in range(agents):
        log_path = workspace / f"agent-{index}.log"
        command = [sys.executable, str(PROTOCOL_AGENT), "--store", url, "--poll", "0.05", "--lease-seconds", "30"]
        command += ["--worker-id", f"bench-{index}", "--workspace", str(workspace / f"agent-{index}")]
        with open(log_path, "wb") as log:
            processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
        logs.append(log_path)
    while len(queue.store.list(STATUS)) < jobs:  # one final status key per job; a light poll, to leave the CPU to agents
        time.sleep(0.5)
    drained = time.perf_counter() - started
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)
    cpu_per_job = (_children_cpu() - children_before + _process_cpu(server) - server_before) / jobs
    events = [event for path in logs for event in _events(path)]
    completed = sorted(event["time"] for event in events if event["event"] == "job_completed" and event["committed"])
    agent_requests = sum(event.get("store_requests", 0) for event in events if event["event"] == "agent_stopped")
    per_agent = sorted(sum(1 for event in _events(path) if event["event"] == "job_completed") for path in logs)
    first_start = min(event["time"] for event in events if event["event"] == "agent_started")
    last_start = max(event["time"] for event in events if event["event"] == "agent_started")
    steady = completed[-1] - completed[0]
    states = sorted({status.state for status in queue.list_jobs()})
    print(f"submit: {jobs} jobs in {submitted:.2f} s ({jobs / submitted:.0f} jobs/s, 8 threads), {submit_requests} requests")
    print(
        f"claim throughput, {agents} agent processes: {len(completed)} jobs in {drained:.2f} s from launch "
        f"= {len(completed) / drained:.1f} jobs/s (agents took {last_start - first_start:.1f} s to start); "
        f"steady {len(completed) / steady:.1f} jobs/s (first to last completion, {steady:.2f} s); states {states}"
    )
    print(f"jobs per agent: {per_agent}")
    print(
        f"CPU per job, {agents} agents + SeaweedFS (startup included): {cpu_per_job * 1000:.0f} ms, so at most "
        f"{(os.cpu_count() or 1) / cpu_per_job:.0f} jobs/s on {os.cpu_count()} idle cores; load average now "
        f"{os.getloadavg()[0]:.1f} (other processes share the cores)"
    )
    total = submit_requests + agent_requests
    print(
        f"requests per job, everything the submitter and {agents} agents sent (polls, races, batch deletes, idle polls "
        f"at the end): {total} / {jobs} = {total / jobs:.2f}"
    )
    return ref


def one_job_path(server: SeaweedFS, prefix: str, workspace: Path) -> None:
    """The exact request count of one job through one agent: submit, poll, claim, 1 file, commit, finish."""
    from pose_factory_addon.agent import AgentOptions, EventLog, run_agent

    class _Quiet:
        def write(self, text: str) -> int:
            return len(text)

        def flush(self) -> None:
            return None

    def one_file(manifest: Any, files: Any, out_dir: Path, progress: Any) -> None:
        (out_dir / "result.txt").write_text(manifest.job_id)
        progress(1, 1)

    store = _store(server, prefix)
    queue = JobQueue(store)
    character = workspace / "path.fbx"
    character.write_bytes(os.urandom(1024))
    ref = queue.upload_character(character)
    options = AgentOptions(worker_id="path", workspace=workspace / "path-agent", once=True, poll_seconds=0.05)
    _submit_many(queue, ref, 1, threads=1)
    run_agent(store, options, {"render": one_file}, log=EventLog("path", _Quiet()))  # warm: caches the character
    before = store.requests_sent
    _submit_many(queue, ref, 1, threads=1)
    run_agent(store, options, {"render": one_file}, log=EventLog("path", _Quiet()))
    used = store.requests_sent - before
    # run_agent --once polls once more (empty LIST) and flushes its one lease (one batch delete) before it returns.
    print(f"requests for one job through one agent: {used} including the final empty poll and the lease flush")


def status_timing(server: SeaweedFS, prefix: str, ref: CharacterRef, total: int, repeat: int, workspace: Path) -> None:
    queue = JobQueue(_store(server, prefix))
    existing = len(queue.list_jobs())
    if existing < total:
        _submit_many(queue, ref, total - existing)
    env = {**os.environ, **server.environment(), "XDG_CONFIG_HOME": str(workspace / "config")}
    command = [sys.executable, "-m", "pose_factory_addon.cli", "status", "--json", "--store", f"s3://{server.bucket}/{prefix}"]
    cli_times, call_times, limited = [], [], []
    counts: dict[str, int] = {}
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=True)
        cli_times.append(time.perf_counter() - started)
        listed = json.loads(result.stdout)
        started = time.perf_counter()
        jobs = queue.list_jobs()
        call_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        queue.list_jobs(states=["pending"], limit=50)
        limited.append(time.perf_counter() - started)
        counts = {}
        for job in jobs:
            counts[job.state] = counts.get(job.state, 0) + 1
    print(f"status of {len(listed)} jobs {dict(sorted(counts.items()))}:")
    print(
        f"  `pose-factory status --json` (new process): median {statistics.median(cli_times):.2f} s, "
        f"max {max(cli_times):.2f} s over {repeat} runs"
    )
    print(f"  JobQueue.list_jobs() in process: median {statistics.median(call_times):.2f} s, max {max(call_times):.2f} s")
    print(f"  --state pending --limit 50: median {statistics.median(limited):.2f} s")


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
    command = [sys.executable, str(REPO_ROOT / "headless" / "agent.py"), "--store", url, "--poll", "0.2"]
    command += ["--workspace", str(workspace / "render")]
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
                for event in _events(log_path)
                if event["event"] == "job_completed" and event["job_id"] == manifest.job_id
            ]
            agent_side = seconds[0] if seconds else "?"
            print(f"submit -> {status.state}, 1-image render job, {label}: {elapsed:.2f} s (agent-side job time {agent_side} s)")
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="no-render jobs for the throughput run")
    parser.add_argument("--agents", type=int, default=16, help="agent processes")
    parser.add_argument("--status-jobs", type=int, default=5000, help="jobs in the store when status is timed")
    parser.add_argument("--repeat", type=int, default=5, help="status timings")
    parser.add_argument("--render", action="store_true", help="also the latency of a 1-image render job (needs bpy)")
    args = parser.parse_args()
    with SeaweedFS() as server, tempfile.TemporaryDirectory(prefix="pose-factory-bench-") as folder:
        os.environ.update(server.environment())
        print(f"SeaweedFS {server.endpoint}, {os.cpu_count()} CPUs")
        workspace = Path(folder)
        one_job_path(server, "path", workspace)
        ref = throughput(server, "throughput", args.jobs, args.agents, workspace)
        status_timing(server, "throughput", ref, args.status_jobs, args.repeat, workspace)
        if args.render:
            render_latency(server, workspace)


if __name__ == "__main__":
    main()
