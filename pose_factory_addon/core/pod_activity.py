"""What the agents on a pod are doing, read from the job store: working, idle (and for how long), or stopped.

Each agent keeps one small record, ``agents/<worker_id>.json``, in the store it works for::

    {"worker_id", "pod_id", "state": "idle" | "working" | "stopped", "job_id", "since",
     "updated_at", "refresh_s", "stop_when_idle_s", "reason"}

Times are Unix seconds. An idle agent rewrites its record every ``refresh_s`` seconds, so a record
not rewritten for three of those belongs to an agent that died. Whether a pod is *working* is
not taken from these records but from the leases (``jobs/processing/``), which the protocol keeps
exact: a lease belongs to a pod when its worker id is the pod id or starts with ``<pod id>-``
(agents name themselves so on RunPod, see :func:`pod_worker_id`).

:func:`pod_activity` and :func:`terminate_pod` are what the CLI and the panel call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from typing import Final

from .errors import PodBusy, PodError, PoseFactoryError
from .pods import RunPodClient, validate_pod_id
from .queue import JobQueue
from .security import is_safe_slug
from .store import ObjectStore

AGENTS: Final = "agents/"
STATES: Final = ("idle", "working", "stopped")
_STALE_REFRESHES = 3.0


def presence_key(worker_id: str) -> str:
    """The store key of a worker's record; the worker id must already be a safe slug."""
    if not is_safe_slug(worker_id):
        raise ValueError(f"worker id {worker_id!r} is not a safe name")
    return f"{AGENTS}{worker_id}.json"


def pod_worker_id(pod_id: str, suffix: str) -> str:
    """The worker id of an agent on pod ``pod_id``: ``<pod id>-<suffix>`` (the suffix tells agents of one pod apart)."""
    return f"{validate_pod_id(pod_id)}-{suffix}"


def worker_on_pod(worker_id: str, pod_id: str) -> bool:
    """True when ``worker_id`` names an agent on ``pod_id`` (see :func:`pod_worker_id`)."""
    return worker_id == pod_id or worker_id.startswith(f"{pod_id}-")


@dataclass(frozen=True)
class AgentRecord:
    """One agent's ``agents/<worker_id>.json``; times in Unix seconds, ``stop_when_idle_s`` 0 when it never stops its pod."""

    worker_id: str
    pod_id: str
    state: str
    job_id: str
    since: float
    updated_at: float
    refresh_s: float
    stop_when_idle_s: float = 0.0
    reason: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8")

    @classmethod
    def parse(cls, data: bytes) -> AgentRecord | None:
        """The record, or ``None`` for anything that is not one (a record is data from the store, never trusted)."""
        try:
            raw = json.loads(data)
            record = cls(
                worker_id=str(raw["worker_id"]),
                pod_id=str(raw.get("pod_id") or ""),
                state=str(raw["state"]),
                job_id=str(raw.get("job_id") or ""),
                since=float(raw["since"]),
                updated_at=float(raw["updated_at"]),
                refresh_s=float(raw["refresh_s"]),
                stop_when_idle_s=float(raw.get("stop_when_idle_s") or 0.0),
                reason=str(raw.get("reason") or ""),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return record if record.state in STATES and is_safe_slug(record.worker_id) else None

    def is_fresh(self, now: float) -> bool:
        """False when the agent stopped rewriting its record: it died, or lost the store."""
        return self.state == "stopped" or now - self.updated_at <= _STALE_REFRESHES * self.refresh_s


class AgentPresence:
    """The agent's side: writes its record on every change of state and refreshes it while idle.

    ``idle_seconds`` is measured on the monotonic clock, so the agent's own decision to stop its
    pod does not depend on the wall clock; the record carries wall-clock times for readers.
    Store errors propagate: the agent logs them and goes on.
    """

    def __init__(
        self,
        store: ObjectStore,
        worker_id: str,
        pod_id: str = "",
        refresh_s: float = 60.0,
        stop_when_idle_s: float = 0.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._key = presence_key(worker_id)
        self._clock = clock
        self._monotonic = monotonic
        now = clock()
        self.record = AgentRecord(worker_id, pod_id, "idle", "", now, now, refresh_s, stop_when_idle_s)
        self._idle_since = monotonic()
        self._written_at = float("-inf")

    @property
    def idle_seconds(self) -> float:
        """Seconds since the agent last had work (or started); 0 while it works."""
        return 0.0 if self.record.state == "working" else self._monotonic() - self._idle_since

    def set(self, state: str, job_id: str = "", reason: str = "") -> None:
        """Record a new state now; ``idle`` restarts the idle clock."""
        now = self._clock()
        if state == "idle":
            self._idle_since = self._monotonic()
        self.record = replace(self.record, state=state, job_id=job_id, since=now, reason=reason)
        self._write(now)

    def restart_idle_clock(self) -> None:
        """Count idle time from now again (after a pod stop that did not go through)."""
        self._idle_since = self._monotonic()

    def refresh(self) -> None:
        """Rewrite the record when ``refresh_s`` has passed since the last write, so readers see it alive."""
        if self._monotonic() - self._written_at >= self.record.refresh_s:
            self._write(self._clock())

    def _write(self, now: float) -> None:
        self.record = replace(self.record, updated_at=now)
        self._written_at = self._monotonic()
        self._store.put(self._key, self.record.to_bytes())


def agent_records(store: ObjectStore) -> list[AgentRecord]:
    """Every readable record under ``agents/``; broken ones are skipped."""
    records = []
    for key in store.list(AGENTS):
        stored = store.get(key)
        record = AgentRecord.parse(stored.data) if stored is not None else None
        if record is not None and key == presence_key(record.worker_id):
            records.append(record)
    return records


@dataclass(frozen=True)
class PodActivity:
    """What a pod's agents are doing.

    ``state``: ``working`` (a lease is held by one of its agents; ``job_ids`` lists the jobs),
    ``idle`` (a live agent has no job; ``idle_seconds`` since when, ``stops_after_seconds`` the idle
    time at which it stops the pod, ``None`` if it never does), ``stopped`` (its agents ended;
    ``reason`` says why, e.g. ``idle``), or ``unknown`` (no live agent record: none started yet,
    the image does not run one, or it died).
    """

    pod_id: str
    state: str
    job_ids: tuple[str, ...] = ()
    idle_seconds: float | None = None
    stops_after_seconds: float | None = None
    reason: str = ""

    @property
    def busy(self) -> bool:
        return self.state == "working"

    def describe(self) -> str:
        """A few words: ``working render_...``, ``idle 4m (stops at 10m)``, ``stopped (idle)`` or ``-``."""
        if self.state == "working":
            return f"working {', '.join(self.job_ids)}"
        if self.state == "idle" and self.idle_seconds is not None:
            limit = f" (stops at {_minutes(self.stops_after_seconds)})" if self.stops_after_seconds else ""
            return f"idle {_minutes(self.idle_seconds)}{limit}"
        if self.state == "stopped":
            return f"stopped ({self.reason})" if self.reason else "stopped"
        return "-"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f}m" if seconds >= 60 else f"{seconds:.0f}s"


def _activity(pod_id: str, held: dict[str, str], records: Iterable[AgentRecord], now: float) -> PodActivity:
    jobs = tuple(sorted(job_id for job_id, worker in held.items() if worker_on_pod(worker, pod_id)))
    if jobs:
        return PodActivity(pod_id, "working", jobs)
    mine = [record for record in records if record.pod_id == pod_id and record.is_fresh(now)]
    idle = [record for record in mine if record.state == "idle"]
    if idle:
        longest = min(idle, key=lambda record: record.since)
        limits = [record.stop_when_idle_s for record in idle if record.stop_when_idle_s > 0]
        return PodActivity(pod_id, "idle", (), max(0.0, now - longest.since), min(limits) if limits else None)
    if mine:
        newest = max(mine, key=lambda record: record.updated_at)
        return PodActivity(pod_id, "stopped" if newest.state == "stopped" else "unknown", reason=newest.reason)
    return PodActivity(pod_id, "unknown")


def pods_activity(queue: JobQueue, pod_ids: Iterable[str], now: float | None = None) -> dict[str, PodActivity]:
    """:class:`PodActivity` of several pods from one reading of the leases and agent records.

    Raises:
        StoreError: the store cannot be read.
    """
    held = queue.held_leases()
    records = agent_records(queue.store)
    moment = time.time() if now is None else now
    return {pod_id: _activity(validate_pod_id(pod_id), held, records, moment) for pod_id in pod_ids}


def pod_activity(queue: JobQueue, pod_id: str, now: float | None = None) -> PodActivity:
    """What the agents of ``pod_id`` are doing (the panel's idle time; ``busy`` for a terminate button).

    Raises:
        UsageError: ``pod_id`` is not a pod id.
        StoreError: the store cannot be read.
    """
    return pods_activity(queue, [pod_id], now)[pod_id]


def busy_jobs(queue: JobQueue, pod_id: str) -> list[str]:
    """The jobs whose leases agents on ``pod_id`` hold now."""
    validate_pod_id(pod_id)
    return sorted(job_id for job_id, worker in queue.held_leases().items() if worker_on_pod(worker, pod_id))


def terminate_pod(client: RunPodClient, queue: JobQueue | None, pod_id: str, force: bool = False) -> None:
    """Terminate ``pod_id`` unless one of its agents holds a job (``force`` skips the check).

    ``queue`` is the store the pod's agents work for; ``None`` (no store reachable) refuses unless
    ``force``, because nothing then proves the pod idle.

    Raises:
        PodBusy: an agent on the pod holds a job in progress.
        PodError: the store could not be checked, or RunPod refused.
    """
    validate_pod_id(pod_id)
    if not force:
        if queue is None:
            raise PodError(f"cannot check whether pod {pod_id} is working without its job store; pass --force to skip the check")
        try:
            jobs = busy_jobs(queue, pod_id)
        except PoseFactoryError as error:
            raise PodError(f"cannot check whether pod {pod_id} is working ({error}); pass --force to skip the check") from None
        if jobs:
            raise PodBusy(pod_id, jobs)
    client.terminate_pod(pod_id)
