"""RunPod's Serverless API on loopback, in front of the real worker under the runpod SDK's local API server.

The SDK's ``--rp_serve_api`` server runs our real handler, but it is a development simulation: its
``POST /run`` only stores the request and its ``POST /status/{id}`` runs the handler inside that call;
it has no endpoint id in its paths, no ``/cancel`` and no progress. This front speaks the production
wire format our client uses (``https://api.runpod.ai/v2``):

- ``POST /v2/{endpoint}/run`` ``{"input": …}`` → ``{"id", "status": "IN_QUEUE"}``
- ``GET /v2/{endpoint}/status/{id}`` → ``{"id", "status", "output"?, "error"?, "delayTime", "executionTime"}``
  with ``IN_QUEUE``, ``IN_PROGRESS`` (``output`` = the last progress update), ``COMPLETED``, ``FAILED``, ``CANCELLED``
- ``POST /v2/{endpoint}/cancel/{id}`` → ``{"id", "status": "CANCELLED"}``

with ``Authorization: Bearer <key>`` (401 otherwise). One worker thread hands requests to the SDK
server one at a time (an endpoint with one worker). The worker's progress updates arrive the way
RunPod's platform receives them: the SDK posts ``{"status": "IN_PROGRESS", "output": …}`` to
``RUNPOD_WEBHOOK_POST_OUTPUT`` (:meth:`RunPodServerlessAPI.worker_environment` points it here).
"""

from __future__ import annotations

import json
import queue
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_STATUS = re.compile(r"^/v2/([A-Za-z0-9]+)/(status|cancel)/([A-Za-z0-9-]+)$")
_RUN = re.compile(r"^/v2/([A-Za-z0-9]+)/run$")
_DONE = re.compile(r"^/v2/job-done/[^/]+/[A-Za-z0-9-]+$")


class RunPodServerlessAPI:
    """The API front; ``base_url`` is what ``RUNPOD_SERVERLESS_API_BASE_URL`` should be."""

    def __init__(self, worker_url: str, endpoint: str, api_key: str) -> None:
        self.worker_url = worker_url.rstrip("/")
        self.endpoint = endpoint
        self.api_key = api_key
        self.requests: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._pending: queue.Queue[str | None] = queue.Queue()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v2"
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._work, daemon=True),
        ]

    def worker_environment(self) -> dict[str, str]:
        """What the worker process needs so its progress updates reach this front."""
        return {"RUNPOD_WEBHOOK_POST_OUTPUT": f"{self.base_url}/job-done/$RUNPOD_POD_ID/$ID?gpu=none"}

    def __enter__(self) -> RunPodServerlessAPI:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._pending.put(None)
        self._server.shutdown()
        self._server.server_close()

    # The worker side: one request at a time through the SDK's simulation routes.
    def _sdk(self, path: str, body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(
            f"{self.worker_url}{path}", data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return dict(json.loads(response.read()))

    def _work(self) -> None:
        while (request_id := self._pending.get()) is not None:
            with self._lock:
                record = self.requests[request_id]
                if record["status"] != "IN_QUEUE":
                    continue  # cancelled while it waited
                record["status"] = "IN_PROGRESS"
                record["started"] = time.monotonic()
            try:
                staged = self._sdk("/run", {"input": record["input"]}, timeout=30)
                answer = self._sdk(f"/status/{staged['id']}", None, timeout=1800)
            except (OSError, urllib.error.URLError, ValueError) as error:
                answer = {"status": "FAILED", "error": f"worker unreachable: {error}"}
            with self._lock:
                record["execution_ms"] = int((time.monotonic() - record["started"]) * 1000)
                record["worker_answer"] = answer  # what the handler itself returned, for the tests
                if record["status"] == "CANCELLED":
                    continue  # RunPod keeps a cancelled request cancelled, whatever its worker returned
                record["status"] = "COMPLETED" if answer.get("status") == "COMPLETED" else "FAILED"
                record["output"] = answer.get("output")
                record["error"] = answer.get("error")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    return json.loads(raw) if raw else None
                except ValueError:
                    return None

            def _authorized(self, endpoint: str) -> bool:
                if self.headers.get("Authorization") != f"Bearer {api.api_key}":
                    self._reply(401, {"error": "Unauthorized"})
                    return False
                if endpoint != api.endpoint:
                    self._reply(404, {"error": "endpoint not found"})
                    return False
                return True

            def do_POST(self) -> None:
                api.calls.append(("POST", self.path.split("?")[0]))
                done = _DONE.match(self.path.split("?")[0])
                if done:  # a progress update from the worker, in the SDK's own format
                    body = self._body()
                    with api._lock:
                        record = api._running()  # updates carry the SDK's own id; the single worker runs one request
                        if record is not None and isinstance(body, dict) and body.get("status") == "IN_PROGRESS":
                            record["progress"] = body.get("output")
                    self._reply(200, {})
                    return
                run = _RUN.match(self.path)
                if run:
                    if not self._authorized(run.group(1)):
                        return
                    body = self._body()
                    if not isinstance(body, dict) or "input" not in body:
                        self._reply(400, {"error": 'body must be {"input": ...}'})
                        return
                    request_id = f"{time.time_ns():x}-u1"
                    with api._lock:
                        api.requests[request_id] = {"status": "IN_QUEUE", "input": body["input"], "queued": time.monotonic()}
                    api._pending.put(request_id)
                    self._reply(200, {"id": request_id, "status": "IN_QUEUE"})
                    return
                cancel = _STATUS.match(self.path)
                if cancel and cancel.group(2) == "cancel":
                    if not self._authorized(cancel.group(1)):
                        return
                    with api._lock:
                        record = api.requests.get(cancel.group(3))
                        if record is None:
                            self._reply(404, {"error": "request not found"})
                            return
                        if record["status"] in ("IN_QUEUE", "IN_PROGRESS"):
                            record["status"] = "CANCELLED"
                    self._reply(200, {"id": cancel.group(3), "status": record["status"]})
                    return
                self._reply(404, {"error": "no such route"})

            def do_GET(self) -> None:
                api.calls.append(("GET", self.path))
                status = _STATUS.match(self.path)
                if not status or status.group(2) != "status":
                    self._reply(404, {"error": "no such route"})
                    return
                if not self._authorized(status.group(1)):
                    return
                with api._lock:
                    record = api.requests.get(status.group(3))
                    if record is None:
                        self._reply(404, {"error": "request not found"})
                        return
                    body: dict[str, Any] = {"id": status.group(3), "status": record["status"]}
                    body["delayTime"] = int((record.get("started", time.monotonic()) - record["queued"]) * 1000)
                    if "execution_ms" in record:
                        body["executionTime"] = record["execution_ms"]
                    if record["status"] == "IN_PROGRESS" and record.get("progress") is not None:
                        body["output"] = record["progress"]
                    if record["status"] in ("COMPLETED", "FAILED") and record.get("output") is not None:
                        body["output"] = record["output"]
                    if record["status"] == "FAILED":
                        body["error"] = record.get("error") or "handler failed"
                self._reply(200, body)

        return Handler

    def _running(self) -> dict[str, Any] | None:
        """The request the single worker is running (progress updates carry the SDK's own id)."""
        return next((item for item in self.requests.values() if item["status"] == "IN_PROGRESS"), None)


@contextmanager
def endpoint_without_answers(endpoint: str, api_key: str) -> Iterator[RunPodServerlessAPI]:
    """RunPod's API for an endpoint whose one worker takes a request and never answers: requests stay IN_PROGRESS
    (for 30 s), so a client can list and cancel them without a real worker."""
    with socket.socket() as silent_worker:
        silent_worker.bind(("127.0.0.1", 0))
        silent_worker.listen(8)
        with RunPodServerlessAPI(f"http://127.0.0.1:{silent_worker.getsockname()[1]}", endpoint, api_key) as api:
            yield api
