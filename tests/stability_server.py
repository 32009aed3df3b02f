"""A local HTTP server that speaks Stability AI's control API, for the enhancement tests.

It accepts ``POST /v2beta/stable-image/control/{structure,sketch}`` as multipart form data,
answers PNG bytes (``Content-Type: image/png`` with ``finish-reason`` and ``seed`` headers, as
Stability does for ``Accept: image/*``) or a JSON error (``{"id", "name", "errors": [...]}``),
and records every request it receives (headers, form fields, the image) so tests can prove what
left the machine. Without a matching ``Authorization: Bearer <key>`` it answers 401, as
Stability does. What it answers is up to the test: ``script`` holds replies consumed one per
request first, then ``answer(request)`` decides (default: the input image unchanged).
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from PIL import Image, ImageOps

ENDPOINTS = ("/v2beta/stable-image/control/structure", "/v2beta/stable-image/control/sketch")


@dataclass(frozen=True)
class Recorded:
    """One request as it arrived: path, headers, text fields, the image's bytes, and when (time.monotonic)."""

    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    image: bytes
    at: float


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_reply(png: bytes, seed: str = "12345", finish_reason: str = "SUCCESS") -> Reply:
    return Reply(200, png, "image/png", {"finish-reason": finish_reason, "seed": seed})


def error_reply(status: int, name: str, errors: list[str], headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps({"id": "0a1b2c3d4e5f", "name": name, "errors": errors}).encode()
    return Reply(status, body, "application/json", headers or {})


def unchanged(request: Recorded, scale: float = 1.0) -> Reply:
    """The input image (resized by ``scale``, as the real service answers at its own size)."""
    with Image.open(io.BytesIO(request.image)) as image:
        size = (round(image.width * scale), round(image.height * scale))
        return image_reply(_png(image.convert("RGB").resize(size)), seed=request.fields.get("seed", "0"))


def mirrored(request: Recorded) -> Reply:
    """The input image mirrored left-right: the same person, the pose no longer where the labels are."""
    with Image.open(io.BytesIO(request.image)) as image:
        return image_reply(_png(ImageOps.mirror(image.convert("RGB"))), seed=request.fields.get("seed", "0"))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        fields, image = _multipart(self.headers.get("Content-Type", ""), body)
        request = Recorded(self.path, dict(self.headers), fields, image, time.monotonic())
        fake = self.server.fake
        with fake.lock:
            fake.requests.append(request)
            scripted = fake.script.popleft() if fake.script else None
            fake.in_flight += 1
            fake.most_in_flight = max(fake.most_in_flight, fake.in_flight)
        try:
            if fake.delay_s:
                time.sleep(fake.delay_s)
            reply = scripted or self._check(request) or fake.answer(request)
        finally:
            with fake.lock:
                fake.in_flight -= 1
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _check(self, request: Recorded) -> Reply | None:
        """Stability's own refusals: unknown path, wrong key, missing fields."""
        if request.path not in ENDPOINTS:
            return error_reply(404, "not_found", [f"{request.path} does not exist"])
        if request.headers.get("Authorization") != f"Bearer {self.server.fake.key}":
            return error_reply(401, "unauthorized", ["authorization: invalid or missing API key"])
        missing = [name for name in ("prompt",) if not request.fields.get(name)]
        if not request.image:
            missing.append("image")
        if missing:
            return error_reply(400, "bad_request", [f"{name}: is required" for name in missing])
        return None


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """The text fields and the ``image`` file of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, str] = {}
    image = b""
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "image":
            image = payload
        elif name:
            fields[str(name)] = payload.decode("utf-8")
    return fields, image


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStability


class FakeStability:
    """The server, on a free loopback port; ``url`` goes into ``STABILITY_API_BASE_URL``."""

    def __init__(self, key: str, answer: Callable[[Recorded], Reply] = unchanged) -> None:
        self.key = key
        self.answer = answer
        self.script: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.delay_s = 0.0
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests the server was answering at once
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-stability", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeStability:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()
