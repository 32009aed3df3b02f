"""The resume state of an enhancement run: one JSON line per finished request, in the output folder.

The first line describes the run (source dataset, options, base seed); every later line is one
outcome, written with a single ``write`` on an append-only file and flushed to disk before the
next request is counted as done. Its image file is already in place (written atomically) when
the line is written, so a line always means a paid answer that is safely on disk. A line torn by
a crash has no newline yet: it is cut off when the journal is opened again.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .errors import EnhanceError

JOURNAL_FILE: Final = "enhance_journal.jsonl"
JOURNAL_VERSION: Final = 1
NEW_FILE_MODE: Final = 0o644


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, so no reader sees half a file.

    A new file gets rw-r--r-- (``mkstemp`` alone would make it private); an existing one keeps its mode.
    """
    mode = path.stat().st_mode & 0o777 if path.exists() else NEW_FILE_MODE
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The complete JSON lines of ``path`` and the byte length they occupy (a torn last line is not counted)."""
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    records = []
    for number, line in enumerate(complete.splitlines(), start=1):
        try:
            record = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise EnhanceError(
                f"{path}: line {number} is not JSON; the run's state is damaged (remove the folder to start over)"
            ) from None
        if not isinstance(record, dict):
            raise EnhanceError(f"{path}: line {number} is not a JSON object")
        records.append(record)
    return records, len(complete)


def read_journal(folder: Path) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The run line (``None`` without a journal) and the last outcome per output image (key ``image``)."""
    path = folder / JOURNAL_FILE
    if not path.is_file():
        return None, {}
    records, _ = _read_lines(path)
    if not records or records[0].get("kind") != "run":
        raise EnhanceError(f"{path}: the first line does not describe a run")
    outcomes = {str(record["image"]): record for record in records[1:] if "image" in record}
    return records[0], outcomes


class Journal:
    """Appends outcome lines to ``<folder>/enhance_journal.jsonl``; safe to call from several threads."""

    def __init__(self, folder: Path, run: Mapping[str, Any]) -> None:
        """Open the journal of ``folder`` for appending, writing ``run`` as its first line if it is new.

        A torn last line from an interrupted run is cut off first.
        """
        self.path = folder / JOURNAL_FILE
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():
            _, length = _read_lines(self.path)
            if length != self.path.stat().st_size:
                os.truncate(self.path, length)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if os.fstat(self._fd).st_size == 0:
            self.record({"kind": "run", "version": JOURNAL_VERSION, **run})

    def record(self, entry: Mapping[str, Any]) -> None:
        """Append ``entry`` as one line and flush it to disk before returning."""
        line = (json.dumps(dict(entry), sort_keys=True) + "\n").encode("utf-8")
        with self._lock:
            os.write(self._fd, line)
            os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
