"""Work that needs Python packages Pose Factory must not carry, run in an interpreter of its own.

MediaPipe (numpy < 2, protobuf < 5, OpenCV) and the Anny body model (PyTorch) cannot live in
Blender's Python or in the extension's wheels, so each has its own venv (``make qa-setup``,
``make characters-setup``) and a script that is executed there BY PATH. The script reads one
JSON request on stdin and answers with one JSON object per line on stdout, each with a
``kind``; ``{"kind": "fatal", "error": ...}`` means it cannot work at all (its packages are
missing). This module finds the interpreter and runs such a script; the callers interpret the
lines.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from .errors import PoseFactoryError

_TERMINATE_WAIT_S: Final = 10.0
_STDERR_TAIL_LINES: Final = 20


@dataclass(frozen=True)
class SideEnvironment:
    """Where a side interpreter is found and what to tell the user when it is not.

    Order: ``$<env_var>``, else ``<checkout>/<venv>``, else this interpreter if it can import
    ``probe_module``. ``label`` names the packages and ``purpose`` what they are for (messages);
    ``error`` is the exception type raised for this environment's problems.
    """

    label: str
    purpose: str
    env_var: str
    venv: str
    probe_module: str
    setup_hint: str
    error: type[PoseFactoryError]

    def find_python(self, environ: Mapping[str, str] | None = None, package_dir: Path | None = None) -> str:
        """The interpreter to run this environment's script with (``package_dir``: the ``pose_factory_addon`` folder).

        Raises:
            PoseFactoryError (``error``): none is usable; the message says how to set one up.
        """
        environ = os.environ if environ is None else environ
        configured = environ.get(self.env_var, "").strip()
        if configured:
            if not Path(configured).is_file():
                raise self.error(f"${self.env_var} is {configured}, which does not exist; {self.setup_hint}")
            return configured
        package_dir = package_dir or Path(__file__).resolve().parents[1]
        venv_python = package_dir.parent / self.venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if venv_python.is_file():
            return str(venv_python)
        if importlib.util.find_spec(self.probe_module) is not None:
            return sys.executable
        raise self.error(f"{self.label} is not installed for {self.purpose}: {self.setup_hint}")

    def parse_line(self, line: str) -> dict[str, Any]:
        """One JSON object from the script; anything else is a protocol error.

        Raises:
            PoseFactoryError (``error``): the line is not a JSON object with a ``kind``.
        """
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise self.error(f"the {self.label} process printed something that is not JSON: {line.strip()[:200]!r}") from None
        if not isinstance(record, dict) or "kind" not in record:
            raise self.error(f"the {self.label} process printed an unexpected line: {line.strip()[:200]!r}")
        return record

    def run(
        self, python: str, script: Path, request: Mapping[str, Any], handle: Callable[[dict[str, Any]], None]
    ) -> tuple[int, str]:
        """Run ``script`` with ``python``, send ``request``, and call ``handle`` with every answer line.

        ``fatal`` answers raise here; an exception from ``handle`` (a protocol error, a cancelled
        task) terminates the process and propagates. Returns the exit status and the last error
        line the process wrote on stderr (for the caller's message when the answers fall short).

        Raises:
            PoseFactoryError (``error``): the interpreter cannot start, or the script reports it cannot work.
        """
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
            try:
                process = subprocess.Popen(
                    [python, str(script)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                    encoding="utf-8",
                    errors="replace",
                )
            except OSError as error:
                raise self.error(f"cannot start the {self.label} interpreter {python}: {error.strerror or error}") from None
            assert process.stdin is not None and process.stdout is not None
            writer = threading.Thread(target=_write_request, args=(process.stdin, request), daemon=True)
            writer.start()
            try:
                for line in process.stdout:
                    if not line.strip():
                        continue
                    record = self.parse_line(line)
                    if record["kind"] == "fatal":
                        raise self.error(f"{record.get('error', f'the {self.label} process cannot start')}: {self.setup_hint}")
                    handle(record)
                status = process.wait()
            finally:
                _stop(process)
                writer.join(_TERMINATE_WAIT_S)
                process.stdout.close()
            return status, _last_error_line(stderr)


def _write_request(stdin: IO[str], request: Mapping[str, Any]) -> None:
    """Send the request from a thread: a process that dies early must not block the reader on a full pipe."""
    try:
        stdin.write(json.dumps(request))
        stdin.close()
    except (OSError, ValueError):
        pass


def _last_error_line(stderr: IO[str]) -> str:
    stderr.seek(0)
    lines = [line.strip() for line in stderr.read().splitlines()[-_STDERR_TAIL_LINES:] if line.strip()]
    for line in reversed(lines):
        if "error" in line.lower():
            return line
    return lines[-1] if lines else "no message"


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(_TERMINATE_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
