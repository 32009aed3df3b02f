"""A local HTTP server that speaks RunPod's GraphQL API, for tests of the RunPod client, the `pods` CLI and the agent.

It answers each operation with a response shaped like RunPod's (field names from the API; values
recorded from a typical A40 pod), keeps the pods' state (``podStop`` stops one, ``podTerminate``
removes it), and records every request it receives, so tests can prove that ids travel as
variables, the key is a Bearer token, and a hostile pod id never leaves the machine.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POD_ID = "ld5b9pkblr0xdu"
HOSTILE_ID = 'abc") { x }'
RUNNING_POD = {
    "id": POD_ID,
    "name": "pose-factory-agent",
    "desiredStatus": "RUNNING",
    "imageName": "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
    "gpuCount": 1,
    "costPerHr": 0.39,
    "uptimeSeconds": 3725,
    "machine": {"gpuDisplayName": "A40"},
    "runtime": {"uptimeInSeconds": 3725},
}
STOPPED_POD = {
    **RUNNING_POD,
    "id": "8f3kq0zt2mxa1c",
    "name": "spare",
    "desiredStatus": "EXITED",
    "uptimeSeconds": 0,
    "runtime": None,
}
GPU_TYPES = [
    {
        "id": "NVIDIA A40",
        "displayName": "A40",
        "memoryInGb": 48,
        "secureCloud": True,
        "communityCloud": False,
        "securePrice": 0.44,
        "communityPrice": 0.0,
        "lowestPrice": {"uninterruptablePrice": 0.39, "stockStatus": "High"},
    },
    {
        "id": "NVIDIA GeForce RTX 4090",
        "displayName": "RTX 4090",
        "memoryInGb": 24,
        "secureCloud": True,
        "communityCloud": True,
        "securePrice": 0.69,
        "communityPrice": 0.34,
        "lowestPrice": {"uninterruptablePrice": 0.34, "stockStatus": "Medium"},
    },
]


class RunPodHandler(BaseHTTPRequestHandler):
    server: RunPodServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body, "time": time.time()})
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        if self.server.mode == "unauthorized":
            self._send(401, b"Unauthorized", "text/plain")
            return
        if self.server.mode == "graphql_error":
            answer = {
                "errors": [
                    {
                        "message": "There are no longer any instances available with the requested specifications.",
                        "locations": [{"line": 1, "column": 50}],
                        "path": ["podResume"],
                        "extensions": {"code": "RUNPOD"},
                    }
                ],
                "data": {"podResume": None},
            }
            self._send(200, json.dumps(answer).encode(), "application/json")
            return
        self._send(200, json.dumps({"data": self._answer(body)}).encode(), "application/json")

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        query, variables = body["query"], body.get("variables") or {}
        pods = self.server.pods
        if "myself" in query:
            return {"myself": {"pods": list(pods.values())}}
        if "podStop" in query:
            pod_id = variables["input"]["podId"]
            pods[pod_id] = {**pods[pod_id], "desiredStatus": "EXITED", "runtime": None}
            return {"podStop": pods[pod_id]}
        if "podResume" in query:
            pod_id = variables["input"]["podId"]
            pods[pod_id] = {**pods[pod_id], "desiredStatus": "RUNNING"}
            return {"podResume": pods[pod_id]}
        if "podTerminate" in query:
            pods.pop(variables["input"]["podId"], None)
            return {"podTerminate": None}
        if "podFindAndDeployOnDemand" in query:
            deployment = variables["input"]
            return {
                "podFindAndDeployOnDemand": {
                    **STOPPED_POD,
                    "id": "n3wp0d5x7q2k9a",
                    "name": deployment["name"],
                    "desiredStatus": "RUNNING",
                }
            }
        if "gpuTypes" in query:
            return {"gpuTypes": GPU_TYPES}
        if "pod(input" in query:
            return {"pod": pods.get(variables["input"]["podId"])}
        raise AssertionError(f"unexpected query {query}")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up first (the timeout test)


class RunPodServer(ThreadingHTTPServer):
    """The fake; ``mode`` is ``ok``, ``unauthorized`` or ``graphql_error``; ``delay_s`` delays every answer."""

    daemon_threads = True
    requests: list[dict[str, Any]]
    mode: str
    delay_s: float
    pods: dict[str, dict[str, Any]]

    def operations(self, name: str) -> list[dict[str, Any]]:
        """The variables of every request whose query contains ``name`` (e.g. ``podStop``), in order."""
        return [request["body"].get("variables") or {} for request in self.requests if name in request["body"]["query"]]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def runpod_server() -> Iterator[RunPodServer]:
    """The fake on a free loopback port, with the running and the stopped pod; shut down on exit."""
    server = RunPodServer(("127.0.0.1", 0), RunPodHandler)
    server.requests, server.mode, server.delay_s = [], "ok", 0.0
    server.pods = {pod["id"]: copy.deepcopy(pod) for pod in (RUNNING_POD, STOPPED_POD)}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
