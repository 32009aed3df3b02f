"""Pod operators against a local server that speaks RunPod's GraphQL wire format."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ui_helpers import connect, draw

from pose_factory_addon.ui import bridge

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy

POD_ID = "ld5b9pkblr0xdu"
API_KEY = "rpa_ui_test_key_0001"


def _pod(status: str) -> dict[str, Any]:
    return {
        "id": POD_ID,
        "name": "pose-factory",
        "desiredStatus": status,
        "imageName": "runpod/pytorch",
        "gpuCount": 1,
        "costPerHr": 0.42,
        "machine": {"gpuDisplayName": "A40"},
        "runtime": {"uptimeInSeconds": 60} if status == "RUNNING" else None,
    }


class _RunPodHandler(BaseHTTPRequestHandler):
    server: _RunPodServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"authorization": self.headers["Authorization"], "body": body})
        self.server.gate.wait(30)
        query, variables = body["query"], body["variables"]
        if variables["input"]["podId"] != POD_ID:
            data: dict[str, Any] = {"pod": None}
        elif "podStop" in query:
            data = {"podStop": _pod("EXITED")}
        elif "podResume" in query:
            data = {"podResume": _pod("RUNNING")}
        elif "podTerminate" in query:
            data = {"podTerminate": None}
        else:
            data = {"pod": _pod("RUNNING")}
        payload = json.dumps({"data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _RunPodServer(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[dict[str, Any]]
    gate: threading.Event


@pytest.fixture
def runpod(addon: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[_RunPodServer]:
    server = _RunPodServer(("127.0.0.1", 0), _RunPodHandler)
    server.requests, server.gate = [], threading.Event()
    server.gate.set()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    monkeypatch.setenv("RUNPOD_API_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield server
    server.gate.set()
    server.shutdown()
    server.server_close()
    thread.join()


def test_refresh_start_stop_with_key_and_pod_from_preferences(runpod: _RunPodServer, preferences: Any, addon: Any) -> None:
    from pose_factory_addon.ui.panels import POSEFACTORY_PT_pods

    preferences.runpod_api_key = API_KEY
    preferences.runpod_pod_id = POD_ID
    runtime = addon.window_manager.pose_factory
    assert bpy.ops.posefactory.pod_refresh() == {"FINISHED"}
    assert (runtime.pod_status, runtime.pod_gpu, runtime.pod_cost_per_hour) == ("RUNNING", "A40", pytest.approx(0.42))
    assert bpy.ops.posefactory.pod_stop() == {"FINISHED"}
    assert runtime.pod_status == "EXITED"
    assert bpy.ops.posefactory.pod_start() == {"FINISHED"}
    assert runtime.pod_status == "RUNNING"
    assert [request["body"]["variables"]["input"]["podId"] for request in runpod.requests] == [POD_ID] * 3
    assert {request["authorization"] for request in runpod.requests} == {f"Bearer {API_KEY}"}
    shown = draw(POSEFACTORY_PT_pods, addon).joined()
    assert "Status: RUNNING" in shown and "GPU: A40" in shown and "$0.42 per hour" in shown


def test_background_refresh_returns_while_runpod_has_not_answered(
    runpod: _RunPodServer, addon: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pose_factory_addon.core.pod_state import save_pod_id

    save_pod_id(POD_ID)
    monkeypatch.setenv("RUNPOD_API_KEY", API_KEY)
    connect(addon)
    runpod.gate.clear()
    assert bpy.ops.posefactory.pod_refresh(background=True) == {"FINISHED"}
    assert bridge.is_running("pods"), "the request is still waiting for RunPod"
    bridge.drain(addon.window_manager)
    runtime = addon.window_manager.pose_factory
    assert runtime.task("pods").running and not runtime.pod_checked
    with pytest.raises(RuntimeError, match="talking to RunPod"):
        bpy.ops.posefactory.pod_refresh()
    runpod.gate.set()
    assert bridge.wait(30)
    [finished] = bridge.drain(addon.window_manager)
    assert finished.ok and runtime.pod_status == "RUNNING" and not runtime.task("pods").running


def test_unknown_pod_is_reported_in_one_line_and_shown(runpod: _RunPodServer, preferences: Any, addon: Any) -> None:
    from pose_factory_addon.ui.panels import POSEFACTORY_PT_pods

    preferences.runpod_api_key = API_KEY
    preferences.runpod_pod_id = "zzzzzzzzzzzzzz"
    with pytest.raises(RuntimeError, match="RunPod has no pod zzzzzzzzzzzzzz"):
        bpy.ops.posefactory.pod_refresh()
    row_texts = draw(POSEFACTORY_PT_pods, addon).joined()
    assert "RunPod has no pod zzzzzzzzzzzzzz" in row_texts and API_KEY not in row_texts


def test_terminate_refuses_a_pod_whose_agent_renders_and_terminates_an_idle_one(
    runpod: _RunPodServer, preferences: Any, addon: Any
) -> None:
    from pose_factory_addon.core.config import load_settings
    from pose_factory_addon.core.manifest import CharacterRef, RenderParams, new_render_manifest
    from pose_factory_addon.core.pod_activity import AgentPresence, pod_worker_id
    from pose_factory_addon.core.queue import JobQueue
    from pose_factory_addon.ui.panels import POSEFACTORY_PT_pods

    preferences.runpod_api_key = API_KEY
    preferences.runpod_pod_id = POD_ID
    queue = JobQueue.from_settings(load_settings())
    presence = AgentPresence(queue.store, pod_worker_id(POD_ID, "1"), POD_ID, stop_when_idle_s=600.0)
    presence.set("idle")
    assert bpy.ops.posefactory.pod_refresh() == {"FINISHED"}
    runtime = addon.window_manager.pose_factory
    assert runtime.pod_agent.startswith("idle") and "(stops at 10m)" in runtime.pod_agent
    assert "Agent: idle" in draw(POSEFACTORY_PT_pods, addon).joined()
    assert "posefactory.pod_terminate" in draw(POSEFACTORY_PT_pods, addon).operators()
    manifest = new_render_manifest(RenderParams(characters=(CharacterRef("hero", "ab" * 32, "glb"),)))
    queue.submit(manifest)
    lease = queue.claim(queue.pending_keys()[0], pod_worker_id(POD_ID, "1"))
    assert lease is not None
    presence.set("working", manifest.job_id)
    with pytest.raises(RuntimeError, match=manifest.job_id):
        bpy.ops.posefactory.pod_terminate()
    assert not any("podTerminate" in request["body"]["query"] for request in runpod.requests)
    lease.release("the test is done with it")
    presence.set("idle")
    assert bpy.ops.posefactory.pod_terminate() == {"FINISHED"}
    assert runtime.pod_status == "TERMINATED"
    assert sum("podTerminate" in request["body"]["query"] for request in runpod.requests) == 1
