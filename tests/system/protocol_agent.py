"""The real agent process with a handler that needs no rendering, for protocol system tests.

Runs :func:`pose_factory_addon.agent.main` (same loop, leases, signals and logs as
``headless/agent.py``); only the handler table differs. The handler "renders"
``PROTOCOL_IMAGES`` fake images, ``PROTOCOL_IMAGE_SECONDS`` apart, reporting progress after
each, and appends ``<job_id> <worker> <attempt>`` to ``PROTOCOL_FINISHED_LOG`` when it is done,
so a test can count how often each job ran to completion.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pose_factory_addon.agent import BUILTIN_HANDLERS, ProgressCallback, main
from pose_factory_addon.core.manifest import JobManifest, RenderParams


def fake_render(manifest: JobManifest, files: Mapping[str, Path], out_dir: Path, progress: ProgressCallback) -> None:
    images = int(os.environ.get("PROTOCOL_IMAGES", "3"))
    pause = float(os.environ.get("PROTOCOL_IMAGE_SECONDS", "0.1"))
    assert isinstance(manifest.params, RenderParams)
    for name, path in files.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(images):
            time.sleep(pause)
            (folder / f"view_{index}.png").write_text(f"{manifest.job_id} {digest} {index}\n")
            progress(index + 1, images * len(files))
    finished = os.environ.get("PROTOCOL_FINISHED_LOG")
    if finished:
        with open(finished, "a", encoding="utf-8") as handle:
            handle.write(f"{manifest.job_id} {os.getpid()}\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], handlers={**BUILTIN_HANDLERS, "render": fake_render}))
