"""What the operators do, as plain functions over plain data: safe to run in a worker thread (no bpy here).

The operators gather settings on the main thread into a :class:`RenderRequest` and a
:class:`~.preferences.Connection`, then hand one of the ``*_work`` functions below to
:mod:`.bridge`, which runs it blocking (``execute()``) or in a thread (``invoke()``). Each
function reports through its :class:`~.bridge.TaskContext` and returns a one-line summary.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core import defaults
from ..core.child_process import child_environment
from ..core.config import Settings
from ..core.cost import check_render_job, estimate, format_usd, limits_from_settings, load_cost_config, validate
from ..core.enhance_cost import check_enhance_cost
from ..core.enhance_options import EnhanceOptions
from ..core.errors import PodError, PoseFactoryError, RenderError, StoreError, UsageError
from ..core.frames import frame_count_estimate, parse_frame_spec
from ..core.manifest import RenderParams, new_render_manifest
from ..core.pod_activity import pod_activity, terminate_pod
from ..core.pods import Pod, RunPodClient
from ..core.progress import parse_progress_line
from ..core.queue import JobQueue, JobStatus
from ..core.render_params import RenderChoices, build_render_params, child_render_command, parse_elevations, write_params_file
from ..core.serverless import ServerlessJobs
from .bridge import (
    CharactersGenerated,
    ConnectionTested,
    JobChanged,
    JobRow,
    JobsListed,
    LabelsChecked,
    LocalRenderWritten,
    PodReport,
    ResultsDownloaded,
    TaskCancelled,
    TaskContext,
    Work,
)
from .messages import NOT_CONFIGURED, plain_message
from .preferences import Connection


@dataclass(frozen=True)
class RenderRequest:
    """What the Scene asks to render: ``files`` maps safe character names to files.

    ``temporary_files`` (an exported armature) are deleted when the work that used them ends.
    """

    files: Mapping[str, Path]
    choices: RenderChoices
    output_name: str = defaults.OUTPUT_NAME
    temporary_files: tuple[Path, ...] = field(default=())

    def params(self) -> RenderParams:
        """Validated parameters (hashes every character file: run it in the worker)."""
        return build_render_params(self.files, self.choices, self.output_name)

    def remove_temporary_files(self) -> None:
        for path in self.temporary_files:
            path.unlink(missing_ok=True)
            if path.parent.is_dir() and not any(path.parent.iterdir()):
                path.parent.rmdir()


@dataclass(frozen=True)
class ImageCount:
    characters: int
    views: int
    frames: int
    animations: int = 1

    @property
    def images(self) -> int:
        return self.characters * self.animations * self.views * self.frames

    def sentence(self) -> str:
        motions = f" × {self.animations} motions" if self.animations > 1 else ""
        return f"{self.characters} characters{motions} × {self.views} views × {self.frames} frames = {self.images} images"


def count_images(characters: int, angles: int, elevations: str, frames: str, animations: int = 1) -> ImageCount:
    """The live count shown before submitting; frames of ``all``/``every:K`` assume a default clip length.

    Raises:
        ValueError: the elevations or frames text cannot be parsed (the message says how to write it).
    """
    views = angles * len(parse_elevations(elevations))
    return ImageCount(characters, views, frame_count_estimate(parse_frame_spec(frames)), animations)


@dataclass(frozen=True)
class CostView:
    """What the Cost panel shows: USD totals, where the speed came from, and a warning or a refusal."""

    provider_name: str
    total: float = 0.0
    per_image: float = 0.0
    source: str = ""
    warning: str = ""
    refusal: str = ""

    def summary(self) -> str:
        return f"{format_usd(self.total)} total, {format_usd(self.per_image)} per image"


def cost_view(
    images: int, preset: str, provider: str, resolution: tuple[int, int], settings: Settings, search_dirs: tuple[str, ...] = ()
) -> CostView:
    """The estimate for ``images`` images with ``provider``'s prices, checked against the safety limits.

    The pod provider (``local`` pricing) uses exactly the check ``submit`` applies
    (:func:`~..core.cost.check_render_job`); API providers are estimated at the nearest listed
    resolution; credit-priced calls (Stability's control endpoints) as one default enhancement per image.
    Never raises for a refusal: it is returned in ``refusal``.
    """
    name = provider
    try:
        config = load_cost_config(settings.cost_config or None)
        name = str(config["providers"].get(provider, {}).get("name", provider))
        if provider == defaults.COST_PROVIDER:
            decision = check_render_job(images, preset, settings, search_dirs=search_dirs)
            return CostView(name, decision.total, decision.per_image, decision.source, decision.warning or "")
        prices = config["providers"][provider]
        if prices["type"] == "credits":
            result = estimate(provider, images, model=defaults.ENHANCE_MODE, config=config)
            warning = validate(result["total"], images, limits_from_settings(settings))
            source = f"{name}: one {defaults.ENHANCE_MODE} call per image"
            return CostView(name, result["total"], result["per_image"], source, warning or "")
        wanted = f"{resolution[0]}x{resolution[1]}"
        listed = prices.get("resolutions", {}) if isinstance(prices, dict) else {}
        size = wanted if wanted in listed else defaults.COST_RESOLUTION
        result = estimate(provider, images, resolution=size, config=config)
        warning = validate(result["total"], images, limits_from_settings(settings))
        return CostView(name, result["total"], result["per_image"], f"{name} prices at {size}", warning or "")
    except PoseFactoryError as error:
        return CostView(name, refusal=str(error))


def open_queue(connection: Connection) -> JobQueue:
    """The job queue on the connection's store (credentials from its environment)."""
    return JobQueue.from_settings(connection.settings, connection.environ)


def open_jobs(connection: Connection, job_id: str = "") -> JobQueue | ServerlessJobs:
    """Where jobs go (``job_id`` empty) or where one lives: the Serverless endpoint when the backend
    setting says so or the store records the job as sent there, else the queue (as the CLI decides)."""
    queue = open_queue(connection)
    serverless = ServerlessJobs(queue, connection.settings, environ=connection.environ)
    if (connection.settings.backend == "serverless" and not job_id) or (job_id and serverless.mapping(job_id) is not None):
        return serverless
    return queue


def job_row(status: JobStatus) -> JobRow:
    progress = status.progress or {}
    return JobRow(
        job_id=status.job_id,
        state=status.state,
        done=int(progress.get("done", 0)),
        total=int(progress.get("total", 0)),
        error=status.error,
        created_at=status.created_at,
    )


def submit_work(connection: Connection, request: RenderRequest, measured: tuple[str, ...] = ()) -> Work:
    """Hash and upload the characters (once per content), re-check the cost, queue the manifest.

    ``measured`` are the folders whose ``dataset.json`` timings the panel's estimate used.
    """

    def work(task: TaskContext) -> str:
        try:
            task.progress(0, len(request.files) + 1, "Reading character files")
            params = request.params()
            count = params.estimated_images()
            decision = check_render_job(count, params.preset, connection.settings, search_dirs=measured)
            jobs = open_jobs(connection)
            if isinstance(jobs, ServerlessJobs):
                jobs.check_configured()  # no endpoint or API key: say so before anything is uploaded
            queue = open_queue(connection)
            for done, (name, path) in enumerate(request.files.items(), start=1):
                task.check_cancelled()
                task.progress(done - 1, len(request.files) + 1, f"Uploading {name}")
                queue.upload_character(path)
            task.check_cancelled()
            manifest = new_render_manifest(params)
            status = jobs.submit(manifest)
            task.post(JobChanged(job_row(status)))
            return (
                f"Submitted {manifest.job_id} to the {connection.submission_target()}: "
                f"{count} images, estimated {format_usd(decision.total)}"
            )
        finally:
            request.remove_temporary_files()

    return work


def refresh_work(connection: Connection) -> Work:
    def work(task: TaskContext) -> str:
        jobs = ServerlessJobs(open_queue(connection), connection.settings, environ=connection.environ)
        rows = tuple(job_row(status) for status in jobs.list_jobs())
        task.post(JobsListed(rows))
        active = sum(row.state in ("pending", "processing") for row in rows)
        return f"{len(rows)} jobs in {connection.settings.store} ({active} pending or running)"

    return work


def cancel_work(connection: Connection, job_id: str) -> Work:
    def work(task: TaskContext) -> str:
        status = open_jobs(connection, job_id).cancel(job_id)
        task.post(JobChanged(job_row(status)))
        return f"Cancelled {job_id}"

    return work


def download_work(connection: Connection, job_id: str, target: Path) -> Work:
    """Download and verify a completed job's results into ``target`` (must be empty or absent)."""

    def work(task: TaskContext) -> str:
        written = open_queue(connection).download_results(job_id, target)
        task.post(ResultsDownloaded(job_id, str(target)))
        return f"{len(written)} files of {job_id} verified and written to {target}"

    return work


def _pod_client(connection: Connection) -> RunPodClient:
    key = connection.runpod_api_key()
    if not key:
        raise PodError(NOT_CONFIGURED["runpod"])
    return RunPodClient(key, connection.settings.runpod_api_base_url)


def pod_work(connection: Connection, action: str) -> Work:
    """``action`` is ``refresh``, ``start``, ``stop`` or ``terminate`` on the configured pod; the result is a
    PodReport with what its agents do. Terminating refuses a pod whose agent holds a job."""

    def work(task: TaskContext) -> str:
        if not connection.pod_id:
            raise PodError(NOT_CONFIGURED["pod"])
        try:
            client = _pod_client(connection)
            if action == "terminate":
                terminate_pod(client, open_queue(connection), connection.pod_id)
                task.post(PodReport(connection.pod_id, "TERMINATED"))
                return f"Pod {connection.pod_id} terminated: it and its volume are gone"
            pod: Pod = {
                "refresh": client.get_pod,
                "start": client.resume_pod,
                "stop": client.stop_pod,
            }[action](connection.pod_id)
        except PoseFactoryError as error:
            task.post(PodReport(connection.pod_id, error=str(error)))
            raise
        task.post(PodReport(pod.id or connection.pod_id, pod.status, pod.gpu, pod.cost_per_hr, agent=_agent(connection, pod)))
        return f"Pod {pod.id or connection.pod_id}: {pod.status}"

    return work


def _agent(connection: Connection, pod: Pod) -> str:
    """What a running pod's agents do, from the job store (``""`` when it is not running or the store is unreadable)."""
    if pod.status != "RUNNING":
        return ""
    try:
        return pod_activity(open_queue(connection), connection.pod_id).describe()
    except PoseFactoryError:
        return "unknown (the job store cannot be read)"


def search_dirs(folders: Sequence[str]) -> tuple[str, ...]:
    """Folders whose ``dataset.json`` files give measured seconds per image (existing ones only)."""
    return tuple(folder for folder in folders if folder and Path(folder).is_dir())


_POLL_S = 0.2
_TERMINATE_WAIT_S = 10.0


def run_child(task: TaskContext, command: Sequence[str], what: str) -> None:
    """Run a ``pose-factory`` child process, turning its progress lines into task progress; the Stop button stops it.

    Raises:
        TaskCancelled: the task was cancelled (the child is terminated).
        RenderError: the child failed; the message ends with its last ``pose-factory`` error line.
    """
    errors: list[str] = []
    process = subprocess.Popen(
        list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace", env=child_environment()
    )
    reader = threading.Thread(target=_follow_child, args=(process, task, errors), daemon=True)
    reader.start()
    while process.poll() is None:
        if task.cancel_event.wait(_POLL_S):
            process.terminate()
            try:
                process.wait(_TERMINATE_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
            raise TaskCancelled
    reader.join(_TERMINATE_WAIT_S)
    if process.returncode != 0:
        reason = next((line for line in reversed(errors) if line.startswith("pose-factory")), errors[-1] if errors else "")
        raise RenderError(f"{what} failed (exit status {process.returncode}): {reason}")


def render_local_work(request: RenderRequest, out_dir: Path, blender: str, python: str, replace_existing: bool = False) -> Work:
    """Render ``request`` into ``out_dir`` in a child ``pose-factory render`` (:func:`run_child`), which reads
    the validated params from a manifest file, exactly as a render worker does. A dataset already in
    ``out_dir`` is refused unless ``replace_existing``."""

    def work(task: TaskContext) -> str:
        scratch = Path(tempfile.mkdtemp(prefix="pose-factory-render-"))
        try:
            task.progress(0, 1, "Reading character files")
            params = request.params()
            params_file = write_params_file(params, scratch / "params.json")
            extra = ["--overwrite"] if replace_existing else []
            command = child_render_command(params_file, request.files, {}, out_dir, extra, blender, python)
            run_child(task, command, "the local render")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            request.remove_temporary_files()
        task.post(LocalRenderWritten(str(out_dir)))
        return f"Rendered into {out_dir}"

    return work


def _follow_child(process: subprocess.Popen[str], task: TaskContext, errors: list[str]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        parsed = parse_progress_line(line)
        if parsed is not None:
            done, total, text = parsed
            task.progress(done, total, text.split(", ETA")[0])
        elif line.strip():
            errors.append(line.strip())
            del errors[:-20]


def check_labels_work(folder: Path, open_report: bool = True) -> Work:
    """Check the labels of the dataset in ``folder`` against MediaPipe (``pose-factory qa``); Stop stops MediaPipe."""

    def work(task: TaskContext) -> str:
        try:
            from ..core.qa_check import check_dataset
        except ImportError as error:
            raise UsageError(
                f"checking labels needs Pillow, which this Blender lacks ({error.name}); "
                f"run `pose-factory qa {folder}` outside Blender"
            ) from None

        def progress(done: int, total: int) -> None:
            task.check_cancelled()
            task.progress(done, total, f"Checking labels: {done}/{total} images")

        task.progress(0, 1, "Checking labels: starting MediaPipe")
        result = check_dataset(folder, progress=progress)
        summary = result.summary
        task.post(
            LabelsChecked(
                folder=str(folder),
                report=str(result.html_path),
                detection_rate=summary["detection_rate"],
                body_error=summary["body_error"]["median"],
                face_error=summary["face_error"]["median"],
                flags=tuple(summary["flags"]),
                open_report=open_report,
            )
        )
        flagged = f"{len(summary['flags'])} flags" if summary["flags"] else "no flags"
        return f"Labels checked: {summary['detected']}/{summary['images']} detected, {flagged}; report {result.html_path}"

    return work


def generate_characters_work(command: Sequence[str], folder: Path) -> Work:
    """Generate people in a child process (``pose-factory characters generate``; it needs the characters venv)."""

    def work(task: TaskContext) -> str:
        before = {path.name for path in folder.glob("*.json")} if folder.is_dir() else set()
        run_child(task, command, "generating people")
        names = tuple(sorted(path.stem for path in folder.glob("*.json") if path.name not in before))
        task.post(CharactersGenerated(str(folder), names))
        return f"Generated {len(names)} {'person' if len(names) == 1 else 'people'} into {folder}"

    return work


def enhance_estimate(images: int, options: EnhanceOptions, settings: Settings) -> CostView:
    """What enhancing ``images`` rendered images costs (each variation is a paid request), checked against the
    limits exactly as ``pose-factory enhance`` checks it; a refusal is returned, never raised."""
    try:
        cost = check_enhance_cost(images * options.variations, options.mode, settings)
    except PoseFactoryError as error:
        return CostView("Stability AI", refusal=str(error))
    source = f"{images * options.variations} requests at {cost.credits_per_request:g} credits"
    return CostView(cost.provider_name, cost.total, cost.per_request, source, cost.warning or "")


def enhance_work(connection: Connection, folder: Path, options: EnhanceOptions) -> Work:
    """Enhance the dataset in ``folder`` into ``<folder>_enhanced`` (``pose-factory enhance``); Stop stops it.

    The cost is checked again for the requests still to send (a resumed run pays only for those); the
    caller has confirmed a cost above the warning threshold. Stopping keeps every answer already paid for:
    running it again resumes.
    """

    def work(task: TaskContext) -> str:
        try:
            from ..core.enhance import default_out_dir, enhance, plan_enhancement
        except ImportError as error:
            raise UsageError(
                f"enhancing needs Pillow, which this Blender lacks ({error.name}); "
                f"run `pose-factory enhance {folder} --prompt ...` outside Blender"
            ) from None
        from ..core.stability import StabilityClient

        settings = connection.settings
        client = StabilityClient(connection.stability_api_key(), settings.stability_api_base_url)
        task.progress(0, 1, "Enhancing: reading the dataset")
        plan = plan_enhancement(folder, default_out_dir(folder), options)
        cost = check_enhance_cost(len(plan.pending), options.mode, settings)

        def progress(done: int, total: int) -> None:
            task.check_cancelled()
            task.progress(done, total, f"Enhancing with Stability AI: {done}/{total} images")

        def gate_progress(done: int, total: int) -> None:
            task.check_cancelled()
            task.progress(done, total, f"QA gate: {done}/{total} images")

        result = enhance(plan, client, cost, progress=progress, qa_progress=gate_progress)
        kept, rejected = len(result.gate.kept), len(result.gate.rejected)
        refused = f", {len(result.failures)} refused by Stability" if result.failures else ""
        return f"Enhanced into {result.out_dir}: {kept} kept, {rejected} rejected by the QA gate{refused}"

    return work


_PROBE_KEY = "probes/pose-factory-connection-test.txt"


def test_store_work(connection: Connection) -> Work:
    """Reach the job store step by step (open, list, write, read back, delete) and report each step's outcome."""

    def work(task: TaskContext) -> str:
        lines = [f"Store: {connection.settings.store}"]
        try:
            if connection.missing_s3_credentials():
                lines.append(f"Credentials: missing. {NOT_CONFIGURED['s3']}")
                raise StoreError(NOT_CONFIGURED["s3"])
            queue = open_queue(connection)
            lines.append(f"Listing jobs: ok, {len(queue.store.list('jobs/status/'))} jobs")
            queue.store.put(_PROBE_KEY, b"pose-factory connection test\n")
            stored = queue.store.get(_PROBE_KEY)
            lines.append("Writing and reading back a test object: " + ("ok" if stored is not None else "written but not found"))
            queue.store.delete(_PROBE_KEY)
            lines.append("Deleting it: ok")
        except PoseFactoryError as error:
            lines.append(f"Failed: {plain_message(error, connection.settings, connection.secrets)}")
            task.post(ConnectionTested(tuple(lines)))
            raise
        task.post(ConnectionTested(tuple(lines)))
        return f"Job store reached: {connection.settings.store}"

    return work


def test_runpod_work(connection: Connection) -> Work:
    """Reach RunPod step by step (the key, the pod list, the configured pod) and report each step's outcome."""

    def work(task: TaskContext) -> str:
        lines = [f"RunPod API: {connection.settings.runpod_api_base_url}"]
        try:
            client = _pod_client(connection)
            pods = client.list_pods()
            lines.append(f"API key: accepted, {len(pods)} pods on the account")
            if connection.pod_id:
                pod = client.get_pod(connection.pod_id)
                lines.append(f"Pod {connection.pod_id}: {pod.status or 'unknown status'}, {pod.gpu or 'GPU unknown'}")
            else:
                lines.append(f"Pod: none configured. {NOT_CONFIGURED['pod']}")
        except PoseFactoryError as error:
            lines.append(f"Failed: {plain_message(error, connection.settings, connection.secrets)}")
            task.post(ConnectionTested(tuple(lines)))
            raise
        task.post(ConnectionTested(tuple(lines)))
        return "RunPod reached"

    return work
