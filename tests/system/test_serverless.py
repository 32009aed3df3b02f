"""RunPod Serverless round trip: the real worker (headless/serverless_handler.py, real bpy) under the runpod SDK's
local API server, RunPod's API in front of it (tests/runpod_serverless_api.py), SeaweedFS as the job store, and our
client (`pose-factory submit --backend serverless`, status, wait, cancel, download)."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from agent_processes import REPO_ROOT, environment, open_queue, wait_until
from runpod_serverless_api import RunPodServerlessAPI

from pose_factory_addon.core.manifest import CharacterRef, RenderParams, new_render_manifest

pytest.importorskip("runpod")
pytest.importorskip("bpy")

pytestmark = [pytest.mark.slow, pytest.mark.s3, pytest.mark.bpy]

ENDPOINT = "posefactorytest01"
API_KEY = "rp-test-key-0123456789"
CHARACTER = REPO_ROOT / "samples" / "characters" / "Mannequin_Slim_Wave.glb"
WORKER = REPO_ROOT / "headless" / "serverless_handler.py"


def _free_port() -> int:
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return int(handle.getsockname()[1])


@pytest.fixture
def serverless(s3_url: str, tmp_path: Path) -> Iterator[tuple[RunPodServerlessAPI, dict[str, str]]]:
    """The worker process and the API front; yields the front and the client's environment."""
    port = _free_port()
    api = RunPodServerlessAPI(f"http://127.0.0.1:{port}", ENDPOINT, API_KEY)
    worker_env = environment(
        tmp_path,
        {
            "POSE_FACTORY_STORE": s3_url,
            "WORKSPACE_ROOT": str(tmp_path / "worker-workspace"),
            "RUNPOD_POD_ID": "testworker",
            "UVICORN_LOG_LEVEL": "warning",
            **api.worker_environment(),
        },
    )
    worker_env.pop("RUNPOD_API_KEY", None)
    log_path = tmp_path / "worker.log"
    command = [sys.executable, str(WORKER), "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)]
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=worker_env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=2):
                    break
            except OSError:
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the worker did not start:\n{log_path.read_text()[-3000:]}") from None
                time.sleep(0.3)
        client_env = environment(
            tmp_path, {"RUNPOD_API_KEY": API_KEY, "RUNPOD_SERVERLESS_API_BASE_URL": api.base_url, "POSE_FACTORY_STORE": s3_url}
        )
        with api:
            yield api, client_env
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        assert API_KEY not in log_path.read_text(errors="replace")


def _cli(env: dict[str, str], cwd: Path, *arguments: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pose_factory_addon.cli", *arguments],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False,
    )  # fmt: skip


def _submit(env: dict[str, str], cwd: Path, *options: str) -> str:
    submitted = _cli(env, cwd, "submit", str(CHARACTER), "--preset", "preview", "--resolution", "64x64",
                     "--backend", "serverless", "--endpoint", ENDPOINT, "--yes", *options)  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    return submitted.stdout.strip().splitlines()[0]


def test_render_job_completes_and_downloads(serverless, s3_url: str, tmp_path: Path) -> None:
    api, env = serverless
    job_id = _submit(env, tmp_path, "--angles", "2", "--wait", "--timeout", "300")
    assert ("POST", f"/v2/{ENDPOINT}/run") in api.calls
    assert any(method == "GET" and path.startswith(f"/v2/{ENDPOINT}/status/") for method, path in api.calls)
    (record,) = api.requests.values()
    assert record["status"] == "COMPLETED" and record["output"]["job_id"] == job_id and record["output"]["files"] > 2

    status = _cli(env, tmp_path, "status", job_id, "--json")
    assert status.returncode == 0, status.stderr
    (job,) = json.loads(status.stdout)
    assert job["state"] == "completed" and job["progress"] == {"done": 2, "total": 2} and job["worker"] == "serverless-testworker"

    downloaded = _cli(env, tmp_path, "download", job_id, "--out", str(tmp_path / "out"))
    assert downloaded.returncode == 0, downloaded.stderr
    assert "verified" in downloaded.stdout
    assert len(list((tmp_path / "out").rglob("*.png"))) == 2
    dataset = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert dataset["failures"] == [] and dataset["device"]["device"] in ("CPU", "GPU")
    mapping = open_queue(s3_url).store.get(f"jobs/serverless/{job_id}.json")
    assert mapping is not None and json.loads(mapping.data)["endpoint"] == ENDPOINT


def test_hostile_manifests_are_refused_with_an_error(serverless, s3_url: str, tmp_path: Path) -> None:
    api, _ = serverless
    wave = CharacterRef("wave", hashlib.sha256(CHARACTER.read_bytes()).hexdigest(), "glb")
    valid = new_render_manifest(RenderParams(characters=(wave,), angles=1, preset="preview", resolution=(64, 64))).to_dict()
    hostile = {
        "may not name code": dict(valid, script="https://evil.example/payload.py"),
        "is not a safe name": json.loads(json.dumps(valid).replace('"wave"', '"../../etc/passwd"')),
        "unknown job_type": dict(valid, job_type="shell"),
    }
    headers = {"Authorization": f"Bearer {API_KEY}"}
    assert requests.post(f"{api.base_url}/{ENDPOINT}/run", json={"input": valid}, timeout=10).status_code == 401
    ids = {}
    for expected, manifest in hostile.items():
        answer = requests.post(f"{api.base_url}/{ENDPOINT}/run", json={"input": manifest}, headers=headers, timeout=10)
        ids[expected] = answer.json()["id"]

    def finished() -> bool:
        return all(api.requests[request_id]["status"] in ("COMPLETED", "FAILED") for request_id in ids.values())

    wait_until(finished, 120, "the hostile requests to finish")
    for expected, request_id in ids.items():
        answer = requests.get(f"{api.base_url}/{ENDPOINT}/status/{request_id}", headers=headers, timeout=10).json()
        assert answer["status"] == "FAILED", answer
        assert answer["error"].startswith("invalid manifest:") and expected in answer["error"] and "\n" not in answer["error"]
    store = open_queue(s3_url).store
    assert store.list("results/") == [] and store.list("jobs/") == []
    assert not any(path.name == "passwd" for path in tmp_path.rglob("*"))


def test_a_cancelled_job_stops(serverless, s3_url: str, tmp_path: Path) -> None:
    api, env = serverless
    job_id = _submit(env, tmp_path, "--angles", "72", "--elevations=0,-10,-20", "--max-cost", "100")

    def running() -> bool:
        listed = _cli(env, tmp_path, "status", job_id, "--json")
        job = json.loads(listed.stdout)[0] if listed.returncode == 0 else {}
        return job.get("state") == "processing" and job["progress"]["done"] >= 1

    wait_until(running, 180, "the job to report progress")
    cancelled = _cli(env, tmp_path, "cancel", job_id)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout, cancelled.stderr
    assert any(path == f"/v2/{ENDPOINT}/cancel/" + next(iter(api.requests)) for _, path in api.calls)
    (record,) = api.requests.values()
    wait_until(lambda: "execution_ms" in record, 60, "the worker to stop the cancelled job")
    assert record["status"] == "CANCELLED"
    assert record["worker_answer"] == {
        "id": record["worker_answer"]["id"],
        "status": "FAILED",
        "error": f"job {job_id} was cancelled",
    }
    waited = _cli(env, tmp_path, "wait", job_id, "--timeout", "5")
    assert waited.returncode == 1 and "cancelled" in waited.stderr
    store = open_queue(s3_url).store
    assert store.list(f"results/{job_id}/") == [], "a cancelled job commits nothing"

    follow_up = _submit(env, tmp_path, "--angles", "1", "--wait", "--timeout", "300")
    assert _cli(env, tmp_path, "status", follow_up, "--json").stdout.count('"completed"') == 1, "the worker is free again"


def test_client_errors_are_one_line_without_the_key(tmp_path: Path) -> None:
    from pose_factory_addon.core.errors import PodError, UsageError
    from pose_factory_addon.core.serverless import ServerlessClient

    with RunPodServerlessAPI("http://127.0.0.1:9", ENDPOINT, API_KEY) as api:
        wrong = ServerlessClient(ENDPOINT, "rp-wrong-key-9876543210", api.base_url)
        with pytest.raises(PodError, match="rejected the API key") as error:
            wrong.status("abc-123")
        assert "rp-wrong-key" not in str(error.value)
        with pytest.raises(PodError, match="not found"):
            ServerlessClient(ENDPOINT, API_KEY, api.base_url).status("no-such-request")
        with pytest.raises(PodError, match="unusable request id"):
            ServerlessClient(ENDPOINT, API_KEY, api.base_url).status("../../graphql")
    with pytest.raises(UsageError, match="endpoint id"):
        ServerlessClient("abc/../x", API_KEY, "http://127.0.0.1:9")
