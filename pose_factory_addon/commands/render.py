"""``pose-factory render PATH... --out DIR``: render and label characters on this machine.

With ``--workers N`` the characters are split over N Blender processes (each runs this same
command on its share with hidden options) and the parts are merged into one dataset.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.dataset import merge_summaries, read_labels, write_dataset_files, write_json
from ..core.errors import RenderError, UsageError
from ..core.manifest import RenderParams
from ._progress import ProgressBar
from .render_options import add_render_options, character_files, render_params_from_args

_PROGRESS_PREFIX = "@pose-factory-progress"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render and label characters locally",
        description="Render every .fbx/.glb/.gltf given (files or folders) from orbit views into a labeled dataset.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="character files or folders")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    add_render_options(parser)
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="parallel Blender processes (default 1)")
    parser.add_argument("--debug-overlays", action="store_true", help="also write skeleton overlays to DIR/overlays/")
    parser.add_argument("--summary-to", type=Path, help=argparse.SUPPRESS)
    parser.set_defaults(func=run_render)


def _report_failures(summary: dict[str, Any]) -> int:
    for failure in summary["failures"]:
        print(f"pose-factory render: {failure['error']}", file=sys.stderr)
    return 1 if summary["failures"] else 0


def render_locally(
    params: RenderParams, files: Mapping[str, Path], out_dir: Path, workers: int = 1, debug_overlays: bool = False
) -> dict[str, Any]:
    """Render ``params`` into ``out_dir`` with a progress display; returns the dataset summary."""
    bar = ProgressBar("render")
    try:
        if workers <= 1 or len(files) <= 1:
            from ..render.pipeline import render_dataset

            return render_dataset(params, files, out_dir, bar, debug_overlays=debug_overlays)
        return _render_in_workers(params, files, out_dir, workers, debug_overlays, bar)
    finally:
        bar.close()


def run_render(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    files = character_files(args.paths)
    params = render_params_from_args(args, files)
    if args.summary_to is not None:
        return _run_worker(args, params, files)
    summary = render_locally(params, files, args.out, args.workers, args.debug_overlays)
    counts = summary["counts"]
    print(
        f"{counts['images']} images of {counts['characters']} character(s) in {args.out} "
        f"({summary['timings']['per_image_s']:.2f} s per image)",
        file=sys.stderr,
    )
    return _report_failures(summary)


def _run_worker(args: argparse.Namespace, params: RenderParams, files: Mapping[str, Path]) -> int:
    from ..render.pipeline import render_dataset

    def report(done: int, total: int) -> None:
        print(f"{_PROGRESS_PREFIX} {done} {total}", flush=True)

    summary = render_dataset(params, files, args.out, report, debug_overlays=args.debug_overlays, write_summary=False)
    write_json(args.summary_to, summary)
    return 0


def _split(names: Sequence[str], workers: int) -> list[list[str]]:
    groups: list[list[str]] = [[] for _ in range(min(workers, len(names)))]
    for index, name in enumerate(names):
        groups[index % len(groups)].append(name)
    return groups


def _worker_command(params: RenderParams, paths: list[Path], out_dir: Path, summary: Path, debug_overlays: bool) -> list[str]:
    command = [sys.executable, "-m", "pose_factory_addon.cli", "render", *map(str, paths), "--out", str(out_dir)]
    command += ["--angles", str(params.angles), "--elevations", ",".join(f"{value:g}" for value in params.elevations)]
    command += ["--frames", params.frames, "--preset", params.preset, "--resolution", "x".join(map(str, params.resolution))]
    command += ["--labels", ",".join(params.labels), "--framing", params.framing, "--seed", str(params.seed)]
    command += ["--summary-to", str(summary)]
    return command + (["--debug-overlays"] if debug_overlays else [])


def _follow(process: subprocess.Popen[str], slot: int, state: dict[int, tuple[int, int]], update: Callable[[], None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(_PROGRESS_PREFIX):
            done, total = (int(part) for part in line.split()[1:3])
            state[slot] = (done, total)
            update()


def _render_in_workers(
    params: RenderParams,
    files: Mapping[str, Path],
    out_dir: Path,
    workers: int,
    debug_overlays: bool,
    progress: Callable[[int, int], None],
) -> dict[str, Any]:
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    parts_dir = out_dir / ".workers"
    parts_dir.mkdir(exist_ok=True)
    groups = _split(list(files), workers)
    state: dict[int, tuple[int, int]] = {}
    lock = threading.Lock()

    def update() -> None:
        with lock:
            progress(sum(done for done, _ in state.values()), sum(total for _, total in state.values()))

    processes = []
    threads = []
    for slot, names in enumerate(groups):
        summary_path = parts_dir / f"part-{slot}.json"
        command = _worker_command(params, [files[name] for name in names], out_dir, summary_path, debug_overlays)
        with (parts_dir / f"part-{slot}.log").open("w", encoding="utf-8") as log:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        thread = threading.Thread(target=_follow, args=(process, slot, state, update), daemon=True)
        thread.start()
        processes.append((process, summary_path, names))
        threads.append(thread)
    parts = []
    for (process, summary_path, names), thread in zip(processes, threads, strict=True):
        thread.join()
        process.wait()
        log_path = summary_path.with_suffix(".log")
        errors = log_path.read_text(encoding="utf-8", errors="replace").strip()
        if process.returncode != 0 or not summary_path.is_file():
            last = errors.splitlines()[-1] if errors else f"exit status {process.returncode}"
            raise RenderError(f"a render worker for {', '.join(names)} failed: {last}")
        parts.append(json.loads(summary_path.read_text(encoding="utf-8")))
        summary_path.unlink()
        log_path.unlink()
    parts_dir.rmdir()
    summary = merge_summaries(parts, time.perf_counter() - started)
    write_dataset_files(out_dir, summary, read_labels(out_dir, summary))
    return summary
