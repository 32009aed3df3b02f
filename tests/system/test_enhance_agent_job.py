"""A queued render job with ``params.enhance``, run by the agent's built-in handler: render (bpy), then enhance.

Stability is the local server and MediaPipe the fake runner, so this tests the path from manifest to
results: the key lives only in the worker's environment, never in the store, the logs or the results.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest
from qa_tools import REPO
from stability_server import FakeStability

from pose_factory_addon.agent import AgentOptions, EventLog, run_agent
from pose_factory_addon.core import qa_detector
from pose_factory_addon.core.enhance_options import enhance_options
from pose_factory_addon.core.manifest import RenderParams, new_render_manifest
from pose_factory_addon.core.queue import JobQueue
from pose_factory_addon.core.store import LocalStore

KEY = "sk-test-worker-only-2718281828"


def test_a_render_job_with_enhance_returns_the_enhanced_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("bpy")
    for name in list(os.environ):
        if name.startswith(("POSE_FACTORY_", "STABILITY_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(qa_detector, "runner_script", lambda: REPO / "tests" / "core" / "qa_fake_runner.py")
    monkeypatch.setenv(qa_detector.QA_PYTHON_ENV, sys.executable)
    monkeypatch.setenv("FAKE_QA_MODE", "echo")
    store = LocalStore(tmp_path / "store")
    queue = JobQueue(store)
    character = queue.upload_character(REPO / "samples" / "characters" / "Mannequin_Slim_Wave.glb")
    params = RenderParams(
        characters=(character,), angles=2, preset="preview", resolution=(64, 64), enhance=enhance_options("a photo", seed=77)
    )
    manifest = new_render_manifest(params)
    queue.submit(manifest)

    with FakeStability(KEY) as stability:
        monkeypatch.setenv("STABILITY_API_KEY", KEY)  # the worker's environment, not the submitter's manifest
        monkeypatch.setenv("STABILITY_API_BASE_URL", stability.url)
        log = io.StringIO()
        options = AgentOptions(worker_id="gpu-1", workspace=tmp_path / "ws", once=True, poll_seconds=0.05, lease_seconds=30)
        run_agent(store, options, log=EventLog("gpu-1", log))

    status = queue.status(manifest.job_id)
    assert status is not None and status.state == "completed", status
    assert status.progress == {"done": 4, "total": 4}, "2 rendered images, then 2 enhanced"
    results = tmp_path / "results"
    queue.download_results(manifest.job_id, results)
    enhanced = json.loads((results / "enhanced" / "dataset.json").read_text())
    assert [image["image"] for image in enhanced["images"]] == ["Mannequin_Slim_Wave/front.png", "Mannequin_Slim_Wave/back.png"]
    assert sorted(request.fields["seed"] for request in stability.requests) == ["77", "78"]
    assert {request.headers["Authorization"] for request in stability.requests} == {f"Bearer {KEY}"}
    assert KEY not in log.getvalue()
    stored = [path for path in (tmp_path / "store").rglob("*") if path.is_file() and KEY.encode() in path.read_bytes()]
    assert stored == [], "no key in the manifest, the status or the results"
