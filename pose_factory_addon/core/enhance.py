"""Enhancement runs: plan the requests, price them, send them to Stability, resume after an interruption.

:func:`plan_enhancement` reads a rendered dataset and the output folder's journal and lists one
request per image and variation (same file stems and folders; variation ``k`` > 1 adds ``_v<k>``);
:func:`~.enhance_cost.check_enhance_cost` prices the requests still to send with ``core/cost.py`` and
the safety limits; :func:`enhance` sends them from a few worker threads under the rate limit, retrying 429,
5xx and network errors, records each answer in the journal the moment it is on disk, and then
writes the enhanced dataset through the QA gate (:mod:`.enhance_dataset`). A resumed run sends
only what the journal does not hold. Nothing here reads a key: the client holds it.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Final

from . import defaults
from .enhance_cost import EnhanceCost
from .enhance_dataset import EnhancedImage, GateResult, write_enhanced_dataset
from .enhance_journal import Journal, read_journal, write_atomically
from .enhance_limits import RetryPolicy, Sleep, TokenBucket
from .enhance_options import MAX_SEED, EnhanceOptions
from .enhance_sizes import prepare_image, restore_image
from .errors import EnhanceError, UsageError
from .qa import label_set_to_compare
from .qa_check import load_dataset
from .qa_detector import find_qa_python
from .security import resolve_under
from .stability import ENDPOINTS, ImageRefused, StabilityClient, StabilityError, TransientError

Progress = Callable[[int, int], None]
"""``(requests done, requests total)``; may raise to stop the run (finished answers are kept)."""

DONE: Final = "done"
REFUSED: Final = "refused"
_STOPPED: Final = "stopped"
# The run line's options that change what is requested; max_error only changes the gate, so it may differ on resume.
_REQUEST_OPTIONS: Final = ("prompt", "negative_prompt", "mode", "control_strength", "variations")


@dataclass(frozen=True)
class EnhanceItem:
    """One request: the rendered image and label (relative to the dataset), the enhanced image and label
    (relative to the output folder), the variation (1-based) and the seed to send."""

    source_image: str
    source_label: str
    image: str
    label: str
    variation: int
    seed: int


@dataclass(frozen=True)
class EnhancePlan:
    """Every request of a run, which of them the journal already holds, and the source dataset they came from.

    ``source`` is the dataset's ``dataset.json``; ``source_labels`` its labels by image path;
    ``source_sha256`` the SHA-256 of each rendered image; ``base_seed`` the seed of the first request
    (request ``i`` sends ``base_seed + i``, wrapped into 1..4294967294).
    """

    dataset_dir: Path
    out_dir: Path
    options: EnhanceOptions
    base_seed: int
    items: tuple[EnhanceItem, ...]
    finished: frozenset[str]
    source: Mapping[str, Any]
    source_labels: Mapping[str, Mapping[str, Any]]
    source_sha256: Mapping[str, str]

    @property
    def pending(self) -> tuple[EnhanceItem, ...]:
        """The requests still to send."""
        return tuple(item for item in self.items if item.image not in self.finished)

    @property
    def image_count(self) -> int:
        """Rendered images the run enhances."""
        return len(self.source_labels)

    def run_record(self) -> dict[str, Any]:
        """The journal's first line: what every answer in the folder was asked with."""
        options = {name: getattr(self.options, name) for name in _REQUEST_OPTIONS}
        return {"source": str(self.dataset_dir), "options": options, "base_seed": self.base_seed}


@dataclass(frozen=True)
class RequestsSent:
    """What :func:`send_requests` did: answers finished and refused this run, finished before (``reused``),
    HTTP requests made (retries included) and the wall time in seconds."""

    finished: int
    refused: int
    reused: int
    requests: int
    seconds: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class EnhanceResult:
    """A finished run: where the dataset is, what the gate kept and rejected, what Stability refused, the cost."""

    out_dir: Path
    sent: RequestsSent
    gate: GateResult
    failures: tuple[dict[str, Any], ...]
    cost: EnhanceCost


def default_out_dir(dataset_dir: Path) -> Path:
    """``<DATASET>_enhanced`` beside the rendered dataset."""
    resolved = dataset_dir.resolve()
    return resolved.with_name(f"{resolved.name}_enhanced")


def output_path(source: str, variation: int, suffix: str) -> str:
    """The enhanced file for ``source`` (relative, ``/``-separated): the same stem, ``_v<k>`` added for variation k > 1."""
    path = PurePosixPath(source)
    stem = path.stem if variation == 1 else f"{path.stem}_v{variation}"
    return str(path.with_name(stem + suffix))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _seed(base_seed: int, index: int) -> int:
    return (base_seed - 1 + index) % MAX_SEED + 1


def _check_resume(run: Mapping[str, Any], options: EnhanceOptions, out_dir: Path) -> int:
    """The base seed of the run recorded in ``out_dir``; refuses options that would mix two runs in one folder."""
    recorded = run.get("options", {})
    for name in _REQUEST_OPTIONS:
        if recorded.get(name) != getattr(options, name):
            raise EnhanceError(
                f"{out_dir} holds an enhancement run with another {name} ({recorded.get(name)!r}); "
                "repeat its options to resume it, or choose another --out"
            )
    base_seed = int(run.get("base_seed", 0))
    if options.seed is not None and options.seed != base_seed:
        raise EnhanceError(f"{out_dir} holds an enhancement run with seed {base_seed}; repeat it (or leave --seed out) to resume")
    return base_seed


def _finished(
    out_dir: Path, outcomes: Mapping[str, Mapping[str, Any]], items: tuple[EnhanceItem, ...], hashes: Mapping[str, str]
) -> frozenset[str]:
    """The items whose answer is in the journal, made from the same rendered image, and (when done) still on disk unchanged."""
    finished = set()
    for item in items:
        outcome = outcomes.get(item.image)
        if outcome is None or outcome.get("source_sha256") != hashes[item.source_image]:
            continue
        if outcome.get("outcome") == REFUSED:
            finished.add(item.image)
        elif outcome.get("outcome") == DONE:
            path = resolve_under(out_dir, item.image)
            if path.is_file() and _sha256(path) == outcome.get("sha256"):
                finished.add(item.image)
    return frozenset(finished)


def plan_enhancement(dataset_dir: Path, out_dir: Path, options: EnhanceOptions) -> EnhancePlan:
    """Every request of enhancing ``dataset_dir`` into ``out_dir``, and which of them a previous run finished.

    Raises:
        UsageError: the dataset is unreadable or has no keypoints the QA gate compares, ``out_dir`` is the
            dataset itself or a non-empty folder without a run, or two outputs would share a name.
        EnhanceError: ``out_dir`` holds a run with other options.
    """
    dataset_dir, out_dir = dataset_dir.resolve(), out_dir.resolve()
    if out_dir == dataset_dir:
        beside = default_out_dir(dataset_dir)
        raise UsageError(f"--out {out_dir} is the dataset itself; enhanced images go beside it (default {beside})")
    summary, labels = load_dataset(dataset_dir)
    try:
        label_set_to_compare(list(labels[0].get("keypoints", {})))
    except ValueError as error:
        raise UsageError(f"{dataset_dir}: {error}; the QA gate needs them") from None
    run, outcomes = read_journal(out_dir)
    if run is not None:
        base_seed = _check_resume(run, options, out_dir)
    elif out_dir.is_dir() and any(out_dir.iterdir()):
        raise UsageError(f"{out_dir} is not empty and holds no enhancement run; choose an empty or new folder with --out")
    else:
        base_seed = options.seed if options.seed is not None else secrets.randbelow(MAX_SEED) + 1
    items: list[EnhanceItem] = []
    for image in summary["images"]:
        for variation in range(1, options.variations + 1):
            items.append(
                EnhanceItem(
                    source_image=image["image"],
                    source_label=image["label"],
                    image=output_path(image["image"], variation, ".png"),
                    label=output_path(image["label"], variation, ".json"),
                    variation=variation,
                    seed=_seed(base_seed, len(items)),
                )
            )
    names = [item.image for item in items] + [item.label for item in items]
    if len(set(names)) != len(names):
        raise UsageError(f"{dataset_dir}: with {options.variations} variations two enhanced files would share a name")
    hashes = {image["image"]: _sha256(resolve_under(dataset_dir, image["image"])) for image in summary["images"]}
    return EnhancePlan(
        dataset_dir=dataset_dir,
        out_dir=out_dir,
        options=options,
        base_seed=base_seed,
        items=tuple(items),
        finished=_finished(out_dir, outcomes, tuple(items), hashes),
        source=summary,
        source_labels={image["image"]: label for image, label in zip(summary["images"], labels, strict=True)},
        source_sha256=hashes,
    )


def _stopped(error: StabilityError, note: str) -> StabilityError:
    """``error`` with ``note`` added, of the same kind (a transient failure stays transient)."""
    if isinstance(error, TransientError):
        return TransientError(f"{error}; {note}", error.status, error.retry_after)
    return StabilityError(f"{error}; {note}", error.status)


class _Sender:
    """Sends one plan's pending requests; each worker thread runs :meth:`send` for one item."""

    def __init__(
        self,
        plan: EnhancePlan,
        client: StabilityClient,
        journal: Journal,
        limiter: TokenBucket,
        retry: RetryPolicy,
        sleep: Sleep,
        stop: threading.Event,
    ) -> None:
        self.plan = plan
        self.client = client
        self.journal = journal
        self.limiter = limiter
        self.retry = retry
        self.sleep = sleep
        self.stop = stop
        self._lock = threading.Lock()
        self.requests = 0

    def _generate(self, item: EnhanceItem, png: bytes) -> tuple[bytes, int | None, int] | None:
        """The answer's PNG, the seed Stability reports and the attempts it took; ``None`` when stopped first."""
        options = self.plan.options
        attempt = 1
        while True:
            if self.stop.is_set() or not self.limiter.acquire(self.stop.is_set):
                return None
            with self._lock:
                self.requests += 1
            try:
                generation = self.client.control(
                    options.mode, png, options.prompt, options.negative_prompt, options.control_strength, item.seed
                )
                return generation.png, generation.seed, attempt
            except TransientError as error:
                if attempt >= self.retry.max_attempts:
                    raise _stopped(error, f"gave up on {item.source_image} after {attempt} attempts") from None
                delay = self.retry.delay(attempt, error.retry_after, rate_limited=error.status == 429)
                if error.status == 429:
                    self.limiter.hold(delay)
                self.sleep(delay)
                attempt += 1

    def send(self, item: EnhanceItem) -> str:
        """Request, restore and store one enhanced image; returns :data:`DONE`, :data:`REFUSED` or "stopped".

        Any failure stops the run at once (no worker starts another request), then propagates.
        """
        try:
            return self._send(item)
        except BaseException:
            self.stop.set()
            raise

    def _send(self, item: EnhanceItem) -> str:
        if self.stop.is_set():
            return _STOPPED
        source_sha256 = self.plan.source_sha256[item.source_image]
        png, mapping = prepare_image(resolve_under(self.plan.dataset_dir, item.source_image).read_bytes())
        try:
            answer = self._generate(item, png)
        except ImageRefused as error:
            refused = {"image": item.image, "outcome": REFUSED, "source_sha256": source_sha256, "status": error.status}
            self.journal.record({**refused, "error": str(error)})
            return REFUSED
        if answer is None:
            return _STOPPED
        answer_png, reported_seed, attempts = answer
        try:
            restored, received = restore_image(answer_png, mapping)
        except ValueError as error:
            raise StabilityError(f"Stability's answer for {item.source_image} is unusable: {error}") from None
        path = resolve_under(self.plan.out_dir, item.image)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, restored)
        self.journal.record(
            {
                "image": item.image,
                "outcome": DONE,
                "sha256": hashlib.sha256(restored).hexdigest(),
                "source_sha256": source_sha256,
                "seed": item.seed,
                "reported_seed": reported_seed,
                "attempts": attempts,
                "size": mapping.record(received),
            }
        )
        return DONE


def send_requests(
    plan: EnhancePlan,
    client: StabilityClient,
    *,
    workers: int = defaults.ENHANCE_WORKERS,
    limiter: TokenBucket | None = None,
    retry: RetryPolicy | None = None,
    sleep: Sleep | None = None,
    progress: Progress | None = None,
) -> RequestsSent:
    """Send every pending request of ``plan`` from ``workers`` threads; each answer lands in the journal at once.

    ``limiter`` defaults to Stability's 150 requests per 10 s; ``sleep`` (retry waits, seconds) defaults to a
    wait that ends early when the run stops. ``progress`` gets ``(done, total)`` on this thread, counting
    the requests a previous run finished as done; if it raises, no new request starts, the ones in flight
    are awaited and recorded, and the exception propagates.

    Raises:
        StabilityError: a request failed in a way that stops the run (out of credits, bad key, invalid
            request, or retries used up); its message says how many images are finished and kept.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    pending = plan.pending
    total, done = len(plan.items), len(plan.items) - len(pending)
    started = time.monotonic()
    with Journal(plan.out_dir, plan.run_record()) as journal:
        stop = threading.Event()
        sender = _Sender(
            plan,
            client,
            journal,
            limiter or TokenBucket.for_window(sleep=stop.wait),
            retry or RetryPolicy(),
            sleep or stop.wait,
            stop,
        )
        counts = {DONE: 0, REFUSED: 0, _STOPPED: 0}
        failure: BaseException | None = None
        if progress is not None:
            progress(done, total)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pose-factory-enhance")
        try:
            futures: list[Future[str]] = [pool.submit(sender.send, item) for item in pending]
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception as error:  # the first failure stops the run; the others are in-flight echoes
                    failure = failure or error
                    stop.set()
                    continue
                counts[outcome] += 1
                if outcome != _STOPPED:
                    done += 1
                    if progress is not None:
                        progress(done, total)
        except BaseException:
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    if failure is not None:
        finished = len(plan.finished) + counts[DONE] + counts[REFUSED]
        note = f"{finished} of {total} images are finished and kept in {plan.out_dir}: run the same command again to resume"
        if isinstance(failure, StabilityError):
            raise _stopped(failure, note) from None
        raise failure
    return RequestsSent(counts[DONE], counts[REFUSED], len(plan.finished), sender.requests, time.monotonic() - started)


def _enhanced_images(plan: EnhancePlan) -> tuple[list[EnhancedImage], list[dict[str, Any]]]:
    """The finished answers in plan order, and the refused images as ``dataset.json`` failures, from the journal."""
    _, outcomes = read_journal(plan.out_dir)
    finished = _finished(plan.out_dir, outcomes, plan.items, plan.source_sha256)
    images, failures = [], []
    for item in plan.items:
        if item.image not in finished:
            continue
        outcome = outcomes[item.image]
        if outcome["outcome"] == REFUSED:
            failure = {"image": item.image, "source_image": item.source_image, "stage": "enhance"}
            failures.append({**failure, "error": outcome["error"]})
            continue
        images.append(
            EnhancedImage(
                image=item.image,
                label=item.label,
                source_image=item.source_image,
                source_sha256=outcome["source_sha256"],
                variation=item.variation,
                seed=int(outcome["seed"]),
                size=outcome["size"],
            )
        )
    return images, failures


def enhance(
    plan: EnhancePlan,
    client: StabilityClient,
    cost: EnhanceCost,
    *,
    progress: Progress | None = None,
    qa_progress: Progress | None = None,
    qa_python: str | None = None,
    workers: int = defaults.ENHANCE_WORKERS,
    limiter: TokenBucket | None = None,
    retry: RetryPolicy | None = None,
    sleep: Sleep | None = None,
) -> EnhanceResult:
    """Run a planned, priced enhancement: the requests (:func:`send_requests`), then the dataset and its QA gate.

    The QA interpreter is looked up before the first request, so a missing one costs nothing.

    Raises:
        QAError: no MediaPipe interpreter (before any request), or MediaPipe failed (answers are kept).
        StabilityError: see :func:`send_requests`.
    """
    qa_python = qa_python or find_qa_python()
    sent = send_requests(plan, client, workers=workers, limiter=limiter, retry=retry, sleep=sleep, progress=progress)
    images, failures = _enhanced_images(plan)
    options = plan.options
    record = {
        "source": str(plan.dataset_dir),
        "provider": "Stability AI",
        "endpoint": ENDPOINTS[options.mode],
        **options.to_dict(),
        "base_seed": plan.base_seed,
        "requests": len(plan.items),
        "finished": len(images),
        "refused": len(failures),
        "credits_per_request": cost.credits_per_request,
        "estimated_cost_usd": round(len(images) * cost.per_request, 6),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    gate = write_enhanced_dataset(
        plan.out_dir, plan.source, plan.source_labels, images, failures, record, options, qa_progress, qa_python
    )
    return EnhanceResult(plan.out_dir, sent, gate, tuple(failures), cost)
