"""Background tasks that never freeze Blender: worker threads post typed messages, the main thread applies them.

A worker (submit, refresh, download, pods, a local render, a folder scan) runs a plain function
in a ``threading.Thread`` and reports only by posting the dataclasses below to one
``queue.Queue``; it never touches bpy. :func:`drain` runs on the main thread, applies every
queued message to ``WindowManager.pose_factory`` and redraws the sidebar; in a Blender session
the timer of :mod:`.watcher` calls it. Blender's bpy module has no event loop (timers never run
there), so scripts and tests call :func:`drain` themselves; :func:`run_now` runs the same work
blocking, for ``execute()``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from ..core.config import Settings
from .messages import plain_message

_JOIN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class TaskStarted:
    task: str
    label: str


@dataclass(frozen=True)
class TaskProgress:
    """``done`` of ``total`` steps (images, files); ``text`` replaces the task's line."""

    task: str
    done: int
    total: int
    text: str = ""


@dataclass(frozen=True)
class TaskFinished:
    """The end of a task: ``level`` is INFO, WARNING (cancelled) or ERROR; ``text`` is one line."""

    task: str
    level: str
    text: str

    @property
    def ok(self) -> bool:
        return self.level == "INFO"


@dataclass(frozen=True)
class JobRow:
    """A job's status as the store reports it; ``done``/``total`` count images."""

    job_id: str
    state: str
    done: int = 0
    total: int = 0
    error: str = ""
    created_at: str = ""


@dataclass(frozen=True)
class JobsListed:
    """The store's full job list (newest first); replaces the panel's list."""

    rows: tuple[JobRow, ...]


@dataclass(frozen=True)
class JobChanged:
    """One job was submitted, cancelled or re-read; inserted at the top or updated in place."""

    row: JobRow


@dataclass(frozen=True)
class ResultsDownloaded:
    job_id: str
    folder: str


@dataclass(frozen=True)
class PodReport:
    """The configured pod as RunPod reports it; ``error`` says why nothing could be read."""

    pod_id: str
    status: str = ""
    gpu: str = ""
    cost_per_hour: float = 0.0
    error: str = ""
    agent: str = ""  # what its agents do (working, idle 4m (stops at 10m), stopped), from the job store


@dataclass(frozen=True)
class LocalRenderWritten:
    folder: str


@dataclass(frozen=True)
class LabelsChecked:
    """A label check of ``folder`` finished; errors in body heights (``None``: nothing compared).

    ``open_report`` opens ``report`` (qa.html) in the web browser once applied on the main thread.
    """

    folder: str
    report: str
    detection_rate: float | None
    body_error: float | None
    face_error: float | None
    flags: tuple[str, ...]
    open_report: bool = True


@dataclass(frozen=True)
class CharactersListed:
    """A scan of ``scene``'s characters folder ``folder`` found ``files`` (name, path), or a ``problem``."""

    scene: str
    folder: str
    files: tuple[tuple[str, str], ...] = ()
    problem: str = ""


@dataclass(frozen=True)
class ConnectionTested:
    """What a connection test reached, one line per step (shown in the add-on preferences)."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class CharactersGenerated:
    """People were generated into ``folder``: it becomes the characters folder and is listed again."""

    folder: str
    names: tuple[str, ...]


Message = (
    TaskStarted
    | TaskProgress
    | TaskFinished
    | JobsListed
    | JobChanged
    | ResultsDownloaded
    | PodReport
    | LocalRenderWritten
    | LabelsChecked
    | CharactersListed
    | ConnectionTested
    | CharactersGenerated
)


class TaskCancelled(Exception):
    """Raised inside a worker by :meth:`TaskContext.check_cancelled` after the Stop button (or :func:`cancel`)."""


@dataclass
class TaskContext:
    """What a worker function gets: a way to post messages and to notice cancellation (no bpy)."""

    task: str
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def post(self, message: Message) -> None:
        _messages.put(message)

    def progress(self, done: int, total: int, text: str = "") -> None:
        _messages.put(TaskProgress(self.task, done, total, text))

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise TaskCancelled


Work = Callable[[TaskContext], str]
"""A worker function: does the job, posts messages, returns the one-line success message."""

_messages: queue.Queue[Message] = queue.Queue()
_running: dict[str, tuple[threading.Thread, TaskContext]] = {}


def _execute(context: TaskContext, label: str, work: Work, settings: Settings | None, secrets: Iterable[str]) -> TaskFinished:
    try:
        finished = TaskFinished(context.task, "INFO", work(context) or f"{label}: done")
    except TaskCancelled:
        finished = TaskFinished(context.task, "WARNING", f"{label}: cancelled")
    except Exception as error:  # every failure must become a message, never a traceback in a thread
        finished = TaskFinished(context.task, "ERROR", plain_message(error, settings, secrets))
    _messages.put(finished)
    return finished


def is_running(task: str) -> bool:
    entry = _running.get(task)
    return entry is not None and entry[0].is_alive()


def start(task: str, label: str, work: Work, settings: Settings | None = None, secrets: Iterable[str] = ()) -> TaskContext:
    """Run ``work`` in a daemon thread and return at once; its messages wait for :func:`drain`."""
    if is_running(task):
        raise RuntimeError(f"task {task} is already running")
    context = TaskContext(task)
    _messages.put(TaskStarted(task, label))
    thread = threading.Thread(
        target=_execute, args=(context, label, work, settings, tuple(secrets)), name=f"pose-factory-{task}", daemon=True
    )
    _running[task] = (thread, context)
    thread.start()
    return context


def run_now(
    window_manager: bpy.types.WindowManager,
    task: str,
    label: str,
    work: Work,
    settings: Settings | None = None,
    secrets: Iterable[str] = (),
) -> TaskFinished:
    """Run ``work`` on this thread (``execute()`` for scripts), apply its messages, return how it ended."""
    context = TaskContext(task)
    _messages.put(TaskStarted(task, label))
    finished = _execute(context, label, work, settings, tuple(secrets))
    drain(window_manager)
    return finished


def cancel(task: str | None = None) -> list[str]:
    """Ask one task (or every task) to stop at its next check; returns the tasks asked."""
    asked = []
    for name, (thread, context) in list(_running.items()):
        if (task is None or name == task) and thread.is_alive():
            context.cancel_event.set()
            asked.append(name)
    return asked


def join(task: str, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for task ``task`` to end; True when it is not running (any more)."""
    entry = _running.get(task)
    if entry is not None:
        entry[0].join(timeout)
    return not is_running(task)


def wait(timeout: float) -> bool:
    """Join the worker threads (tests and shutdown); True when none is left running."""
    deadline = time.monotonic() + timeout
    for thread, _ in list(_running.values()):
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread, _ in _running.values())


def _upsert_job(jobs: bpy.types.bpy_prop_collection, row: JobRow, at_top: bool) -> int:
    index = jobs.find(row.job_id)
    if index < 0:
        jobs.add().name = row.job_id
        index = len(jobs) - 1
        if at_top:
            jobs.move(index, 0)
            index = 0
    item = jobs[index]
    item.state, item.done, item.total, item.error = row.state, row.done, row.total, row.error
    item.created_at = row.created_at or item.created_at
    return index


def _task(runtime: bpy.types.PropertyGroup, name: str) -> bpy.types.PropertyGroup:
    task = runtime.tasks.get(name)
    if task is None:
        task = runtime.tasks.add()
        task.name = name
    return task


def _apply(runtime: bpy.types.PropertyGroup, message: Message) -> None:
    if isinstance(message, TaskStarted):
        task = _task(runtime, message.task)
        task.running, task.label, task.fraction, task.level = True, message.label, 0.0, "INFO"
        task.text = f"{message.label}..."
    elif isinstance(message, TaskProgress):
        task = _task(runtime, message.task)
        task.fraction = message.done / message.total if message.total else 0.0
        task.text = message.text or f"{task.label}: {message.done}/{message.total}"
    elif isinstance(message, TaskFinished):
        task = _task(runtime, message.task)
        task.running, task.text, task.level = False, message.text, message.level
        task.fraction = 1.0 if message.ok else task.fraction
        runtime.message, runtime.message_level = message.text, message.level
        entry = _running.get(message.task)
        if entry is not None and not entry[0].is_alive():
            del _running[message.task]
    elif isinstance(message, JobsListed):
        folders = {job.name: job.results_folder for job in runtime.jobs}
        runtime.jobs.clear()
        for row in message.rows:
            _upsert_job(runtime.jobs, row, at_top=False)
        for index, row in enumerate(message.rows):
            runtime.jobs[index].results_folder = folders.get(row.job_id, "")
        runtime.jobs_checked = True
        runtime.job_index = min(runtime.job_index, max(len(runtime.jobs) - 1, 0))
    elif isinstance(message, JobChanged):
        index = _upsert_job(runtime.jobs, message.row, at_top=True)
        runtime.job_index = index
        runtime.jobs_checked = True
    elif isinstance(message, ResultsDownloaded):
        job = runtime.jobs.get(message.job_id)
        if job is not None:
            job.results_folder = message.folder
        from .snapshot import refresh_estimate

        refresh_estimate(bpy.context)  # the download's timings make the estimate a measured one
    elif isinstance(message, PodReport):
        runtime.pod_checked = True
        runtime.pod_id, runtime.pod_status, runtime.pod_gpu = message.pod_id, message.status, message.gpu
        runtime.pod_cost_per_hour, runtime.pod_error, runtime.pod_agent = message.cost_per_hour, message.error, message.agent
    elif isinstance(message, LocalRenderWritten):
        runtime.last_output_folder = message.folder
    elif isinstance(message, LabelsChecked):
        check = runtime.label_check
        check.folder, check.report, check.flags = message.folder, message.report, "\n".join(message.flags)
        check.detection_rate = -1.0 if message.detection_rate is None else message.detection_rate
        check.body_error = -1.0 if message.body_error is None else message.body_error
        check.face_error = -1.0 if message.face_error is None else message.face_error
        if message.open_report and not bpy.app.background:
            bpy.ops.wm.url_open(url=Path(message.report).as_uri())
    elif isinstance(message, ConnectionTested):
        runtime.connection_test = "\n".join(message.lines)
    elif isinstance(message, CharactersListed):
        _list_scanned(runtime, message)
    elif isinstance(message, CharactersGenerated):
        _list_generated(message)


def _list_scanned(runtime: bpy.types.PropertyGroup, message: CharactersListed) -> None:
    from .properties import characters_folder_path, fill_characters
    from .snapshot import refresh_estimate

    scene = bpy.data.scenes.get(message.scene)
    if scene is None or characters_folder_path(scene.pose_factory) != message.folder:
        return  # the folder changed while it was scanned: the newer scan's answer counts
    runtime.scan_problem = message.problem
    fill_characters(scene.pose_factory, message.files)
    refresh_estimate(bpy.context)


def _list_generated(message: CharactersGenerated) -> None:
    """Point the scene's characters folder at the new people (when it was elsewhere or empty) and list it again."""
    from .properties import characters_folder_path, scan_characters

    settings = bpy.context.scene.pose_factory
    if Path(characters_folder_path(settings) or ".").resolve() != Path(message.folder).resolve():
        settings.characters_folder = message.folder  # its update callback lists it
    else:
        scan_characters(bpy.context)


def _tag_sidebar_redraw(window_manager: bpy.types.WindowManager) -> None:
    """Redraw only the 3D Viewport sidebars (where the panels are), not whole areas."""
    for window in window_manager.windows:
        screen = window.screen
        for area in screen.areas if screen else ():
            if area.type == "VIEW_3D":
                for region in area.regions:
                    if region.type == "UI":
                        region.tag_redraw()


def drain(window_manager: bpy.types.WindowManager) -> list[TaskFinished]:
    """Apply every queued message on the main thread; returns the tasks that finished meanwhile."""
    runtime = window_manager.pose_factory
    finished = []
    applied = 0
    while True:
        try:
            message = _messages.get_nowait()
        except queue.Empty:
            break
        _apply(runtime, message)
        applied += 1
        if isinstance(message, TaskFinished):
            finished.append(message)
    if applied:
        _tag_sidebar_redraw(window_manager)
    return finished


def has_work() -> bool:
    return any(thread.is_alive() for thread, _ in _running.values()) or not _messages.empty()


def shutdown() -> None:
    """Cancel and join every worker and drop undelivered messages (unregister, tests)."""
    cancel()
    wait(_JOIN_TIMEOUT_S)
    _running.clear()
    while not _messages.empty():
        _messages.get_nowait()
