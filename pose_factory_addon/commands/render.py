"""``pose-factory render PATH... --out DIR``: render and label characters on this machine.

With ``--workers N`` the characters are split over N Blender processes (each runs this same
command on its share, reading its exact options from a manifest file so nothing is lost in
translation to flags) and the parts are merged into one dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from ..core.character_files import character_files
from ..core.child_process import child_environment
from ..core.config import load_settings
from ..core.dataset import merge_summaries, read_labels, write_dataset_files, write_json
from ..core.dataset_folder import finish_output, finished_images, prepare_output
from ..core.devices import DEVICE_CHOICES, DEVICE_ENV, DeviceChoice
from ..core.errors import ManifestError, RenderError, UsageError
from ..core.interrupt import INTERRUPTED_EXIT, stop_requested
from ..core.manifest import RenderParams, manifest_from_json
from ..core.progress import parse_progress_line
from ..core.render_params import child_render_command, write_params_file
from ._progress import ProgressBar
from .render_options import add_render_options, motion_files, render_params_from_args


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
    add_device_option(parser)
    parser.add_argument("--debug-overlays", action="store_true", help="also write skeleton overlays to DIR/overlays/")
    parser.add_argument(
        "--backgrounds",
        type=Path,
        metavar="DIR",
        help="with --randomize: your own HDRIs (.hdr/.exr) and photos (.jpg/.png) to draw backgrounds from, "
        "besides the world images bundled with Blender",
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--overwrite", action="store_true", help="replace the dataset in DIR (removes the files its dataset.json lists)"
    )
    existing.add_argument(
        "--resume",
        action="store_true",
        help="finish the interrupted dataset in DIR: keep its finished images, render the missing ones (same options)",
    )
    parser.add_argument("--summary-to", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--params-from", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--keep-finished", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--frame-share", type=_frame_share, default=(0, 1), help=argparse.SUPPRESS)
    parser.set_defaults(func=run_render)


def _report_failures(summary: dict[str, Any]) -> int:
    for failure in summary["failures"]:
        print(f"pose-factory render: {failure['error']}", file=sys.stderr)
    return 1 if summary["failures"] else 0


def render_locally(
    params: RenderParams,
    files: Mapping[str, Path],
    out_dir: Path,
    workers: int = 1,
    debug_overlays: bool = False,
    motions: Mapping[str, Path] | None = None,
    backgrounds: Path | None = None,
    mode: str = "new",
    notice: str = "",
) -> dict[str, Any]:
    """Render ``params`` into ``out_dir`` with a progress display; returns the dataset summary.

    ``motions`` maps the name of each BVH motion in ``params.motions`` to its file; ``backgrounds``
    is a folder of the user's own HDRIs and photos for ``params.randomize``; ``mode`` says what to do
    with a dataset already in ``out_dir`` (``new`` refuses it, ``overwrite``, ``resume``). ``notice``
    is printed on stderr once the output folder is accepted, so a refused one stays a one-line error.
    Ctrl-C stops after the images in progress: the summary then says ``interrupted`` and lists what
    is finished.
    """
    finished = prepare_output(out_dir, params, mode)
    if notice:
        print(notice, file=sys.stderr)
    bar = ProgressBar("render")
    with stop_requested() as stop:
        try:
            if workers <= 1:
                from ..render.pipeline import render_dataset

                summary = render_dataset(
                    params,
                    files,
                    out_dir,
                    bar,
                    motion_files=motions,
                    backgrounds=backgrounds,
                    debug_overlays=debug_overlays,
                    stop=stop,
                    finished=finished,
                    on_phase=bar.phase,
                )
            else:
                options = _WorkerOptions(workers, debug_overlays, motions or {}, backgrounds, keep_finished=bool(finished))
                summary = _render_in_workers(params, files, out_dir, options, bar, stop)
        finally:
            bar.close()
    finish_output(out_dir)
    summary["planned_images"] = max(bar.total, summary["counts"]["images"])
    return summary


def _checked_backgrounds(folder: Path | None) -> Path | None:
    if folder is not None and not folder.is_dir():
        raise UsageError(f"--backgrounds {folder}: no such folder")
    return folder


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device auto|cpu|gpu``, shared by the verbs that render."""
    parser.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        help="render device: auto (a GPU when Blender sees one, else the CPU), cpu, or gpu (an error without one); "
        "default: the device setting, auto",
    )


def choose_device(args: argparse.Namespace) -> DeviceChoice:
    """Select the render device of ``--device`` (else ``$POSE_FACTORY_DEVICE``, the config file, ``auto``).

    The choice is exported to the environment so ``--workers`` children render on the same device.

    Raises:
        UsageError: ``gpu`` and Blender sees no GPU.
    """
    from ..render.devices import select_device

    device = load_settings({"device": args.device}, config_path=args.config).device
    os.environ[DEVICE_ENV] = device
    return select_device(device)


def run_render(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    files = character_files(args.paths)
    backgrounds = _checked_backgrounds(args.backgrounds)
    motions = {name: path for name, path in motion_files(args.motion).items() if path is not None}
    params = _params_from_file(args.params_from) if args.params_from else render_params_from_args(args, files)
    choice = choose_device(args)
    if args.summary_to is not None:
        return _run_worker(args, params, files, motions)
    mode = "overwrite" if args.overwrite else "resume" if args.resume else "new"
    summary = render_locally(
        params,
        files,
        args.out,
        args.workers,
        args.debug_overlays,
        motions,
        backgrounds,
        mode,
        notice=f"render device: {choice.sentence()}",
    )
    counts = summary["counts"]
    if summary.get("interrupted"):
        print(
            f"pose-factory render: interrupted after {counts['images']} of {summary['planned_images']} images; "
            f"dataset.json in {args.out} lists the finished ones (render again with --resume to finish)",
            file=sys.stderr,
        )
        return INTERRUPTED_EXIT
    print(
        f"{counts['images']} images of {counts['characters']} character(s) in {args.out} "
        f"({summary['timings']['per_image_s']:.2f} s per image)",
        file=sys.stderr,
    )
    return _report_failures(summary)


def _params_from_file(path: Path) -> RenderParams:
    """The params of a render manifest file (how a parent process hands a child render its exact options)."""
    try:
        params = manifest_from_json(path.read_bytes()).params
    except OSError as error:
        raise UsageError(f"{path}: cannot be read ({error.strerror or error})") from None
    except ManifestError as error:
        raise UsageError(f"{path}: {error}") from None
    if not isinstance(params, RenderParams):
        raise UsageError(f"{path}: not a render manifest")
    return params


def _run_worker(args: argparse.Namespace, params: RenderParams, files: Mapping[str, Path], motions: Mapping[str, Path]) -> int:
    """One worker of ``--workers``: its share of the characters with the parent's validated params."""
    from ..render.pipeline import render_dataset

    report = ProgressBar("render")  # a worker's environment asks for progress lines (core.child_process)
    with stop_requested() as stop:
        summary = render_dataset(
            params,
            files,
            args.out,
            report,
            motion_files=motions,
            backgrounds=args.backgrounds,
            debug_overlays=args.debug_overlays,
            write_summary=False,
            stop=stop,
            finished=finished_images(args.out) if args.keep_finished else None,
            on_phase=report.phase,
            frame_share=args.frame_share,
        )
    write_json(args.summary_to, summary)
    return INTERRUPTED_EXIT if summary.get("interrupted") else 0


_WORKER_POLL_S = 0.1


def _frame_share(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N with I < N")
    return int(index), int(count)


def _split(names: Sequence[str], workers: int) -> list[tuple[list[str], tuple[int, int]]]:
    """Each worker's characters and frame share: by characters when there are at least as many as workers,
    else every character's frames are shared by ``workers // characters`` workers (one long clip uses every core)."""
    shares = max(1, workers // len(names))
    if shares > 1:
        return [([name], (index, shares)) for name in names for index in range(shares)]
    groups: list[list[str]] = [[] for _ in range(min(workers, len(names)))]
    for index, name in enumerate(names):
        groups[index % len(groups)].append(name)
    return [(group, (0, 1)) for group in groups]


@dataclass(frozen=True)
class _WorkerOptions:
    """How ``--workers`` runs: how many, and what each worker needs besides its params."""

    count: int
    debug_overlays: bool
    motions: Mapping[str, Path]
    backgrounds: Path | None
    keep_finished: bool = False


def _worker_command(
    params: RenderParams,
    files: Mapping[str, Path],
    out_dir: Path,
    part: Path,
    options: _WorkerOptions,
    frame_share: tuple[int, int],
) -> list[str]:
    """The command for one worker; its share of ``params`` goes in ``part.json`` as a render manifest."""
    share = replace(params, characters=tuple(ref for ref in params.characters if ref.name in files))
    params_file = write_params_file(share, part.with_suffix(".params.json"))
    extra = ["--summary-to", str(part.with_suffix(".json"))]
    extra += ["--backgrounds", str(options.backgrounds)] if options.backgrounds is not None else []
    extra += ["--debug-overlays"] if options.debug_overlays else []
    extra += ["--keep-finished"] if options.keep_finished else []
    extra += ["--frame-share", f"{frame_share[0]}/{frame_share[1]}"] if frame_share[1] > 1 else []
    bvh_files = {motion.name: options.motions[motion.name] for motion in params.motions if not motion.is_library}
    return child_render_command(params_file, files, bvh_files, out_dir, extra)


def _follow(
    process: subprocess.Popen[str], slot: int, state: dict[int, tuple[int, int]], update: Callable[[], None], log: TextIO
) -> None:
    """Turn a worker's progress lines into the shared progress; everything else it says goes to its log."""
    assert process.stderr is not None
    for line in process.stderr:
        parsed = parse_progress_line(line)
        if parsed is None:
            log.write(line)
            continue
        state[slot] = parsed[:2]
        update()


def _render_in_workers(
    params: RenderParams,
    files: Mapping[str, Path],
    out_dir: Path,
    options: _WorkerOptions,
    progress: Callable[[int, int], None],
    stop: threading.Event,
) -> dict[str, Any]:
    """Render ``files`` split over worker processes and merge their parts; a stop request is passed on to each."""
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    parts_dir = out_dir / ".workers"
    parts_dir.mkdir(exist_ok=True)
    groups = _split(list(files), options.count)
    state: dict[int, tuple[int, int]] = {}
    lock = threading.Lock()

    def update() -> None:
        with lock:
            progress(sum(done for done, _ in state.values()), sum(total for _, total in state.values()))

    processes = []
    threads = []
    for slot, (names, frame_share) in enumerate(groups):
        summary_path = parts_dir / f"part-{slot}.json"
        command = _worker_command(params, {name: files[name] for name in names}, out_dir, summary_path, options, frame_share)
        log = (parts_dir / f"part-{slot}.log").open("w", encoding="utf-8")
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=child_environment(),
            start_new_session=True,  # Ctrl-C reaches the workers once, from this process (see _wait_for_workers)
        )
        thread = threading.Thread(target=_follow, args=(process, slot, state, update, log), daemon=True)
        thread.start()
        processes.append((process, summary_path, names, log))
        threads.append(thread)
    _wait_for_workers([process for process, *_ in processes], stop)
    parts = []
    for (process, summary_path, names, log), thread in zip(processes, threads, strict=True):
        thread.join()
        process.wait()
        log.close()
        log_path = summary_path.with_suffix(".log")
        errors = log_path.read_text(encoding="utf-8", errors="replace").strip()
        if process.returncode not in (0, INTERRUPTED_EXIT) or not summary_path.is_file():
            last = errors.splitlines()[-1] if errors else f"exit status {process.returncode}"
            raise RenderError(f"a render worker for {', '.join(names)} failed: {last}")
        parts.append(json.loads(summary_path.read_text(encoding="utf-8")))
        summary_path.unlink()
        summary_path.with_suffix(".params.json").unlink()
        log_path.unlink()
    parts_dir.rmdir()
    summary = merge_summaries(parts, time.perf_counter() - started)
    if stop.is_set() or any(part.get("interrupted") for part in parts):
        summary["interrupted"] = True
    write_dataset_files(out_dir, summary, read_labels(out_dir, summary))
    return summary


def _wait_for_workers(processes: Sequence[subprocess.Popen[str]], stop: threading.Event) -> None:
    """Wait for every worker; on a stop request, ask each (once) to stop after its image in progress."""
    asked = False
    while any(process.poll() is None for process in processes):
        if stop.is_set() and not asked:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            asked = True
        time.sleep(_WORKER_POLL_S)
