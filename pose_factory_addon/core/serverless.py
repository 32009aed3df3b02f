"""Jobs on a RunPod Serverless endpoint: RunPod queues, scales and retries; results land in our store.

The endpoint's worker (``headless/serverless_handler.py``) takes one of our job manifests as the
request's ``input``, fetches characters from the job store by content hash, and commits its results
to ``results/<job_id>/`` with ``_complete.json`` last, exactly like a queue agent, so
``pose-factory download`` works unchanged. It also writes the final status key
(``jobs/status/<job_id>.<state>.….json``), so ``pose-factory status`` lists finished serverless jobs.

This client speaks RunPod's Serverless API with ``requests`` (imported when a request is made):
``POST {base}/{endpoint}/run`` with ``{"input": manifest}``, ``GET {base}/{endpoint}/status/{id}``
and ``POST {base}/{endpoint}/cancel/{id}``, with ``Authorization: Bearer <RUNPOD_API_KEY>``. The
submitted job's RunPod request id is recorded in the store as ``jobs/serverless/<job_id>.json``
(``{job_id, endpoint, request_id, submitted_at}``), so any machine with the store can follow or
cancel it by our job id. Cancelling also writes the ``cancelled`` final status, which the worker
checks between images (RunPod's own cancel may not reach a handler that is busy rendering).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Final

from . import defaults
from .config import Settings, secret
from .errors import PodError, PoseFactoryError, QueueError, UsageError
from .manifest import JobManifest, job_type_of, validate_job_id
from .queue import FINAL_STATES, STATUS, JobQueue, JobStatus, complete_key, is_job_id, job_created_at
from .security import redact
from .store import ObjectStore

SERVERLESS: Final = "jobs/serverless/"
ENDPOINT_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9]{4,64}$")
REQUEST_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,127}$")
# RunPod's request states and ours.
_STATES: Final = {
    "IN_QUEUE": "pending",
    "IN_PROGRESS": "processing",
    "COMPLETED": "completed",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
    "TIMED_OUT": "failed",
}
_HTTP_UNAUTHORIZED = 401
_HTTP_NOT_FOUND = 404
_STATUS_THREADS = 8  # jobs still on an endpoint are asked for in parallel when a list is read


def mapping_key(job_id: str) -> str:
    return f"{SERVERLESS}{validate_job_id(job_id)}.json"


def validate_endpoint_id(endpoint: str) -> str:
    """A RunPod endpoint id (letters and digits), safe in a URL path.

    Raises:
        UsageError: anything else.
    """
    if not isinstance(endpoint, str) or not ENDPOINT_ID_PATTERN.fullmatch(endpoint):
        raise UsageError(f"{endpoint!r} is not a RunPod Serverless endpoint id (4 to 64 letters and digits)")
    return endpoint


def _request_id(value: Any) -> str:
    if not isinstance(value, str) or not REQUEST_ID_PATTERN.fullmatch(value):
        raise PodError(f"RunPod answered with an unusable request id {str(value)[:80]!r}")
    return value


@dataclass(frozen=True)
class RemoteStatus:
    """A RunPod request as ``/status`` reports it: ``status`` is RunPod's word (``IN_QUEUE`` … ``TIMED_OUT``)."""

    request_id: str
    status: str
    output: Any = None
    error: str = ""


class ServerlessClient:
    """``/run``, ``/status`` and ``/cancel`` of one RunPod Serverless endpoint.

    Errors are :class:`~.errors.PodError` sentences without the API key.
    """

    def __init__(self, endpoint: str, api_key: str, base_url: str = defaults.RUNPOD_SERVERLESS_API_BASE_URL) -> None:
        self.endpoint = validate_endpoint_id(endpoint)
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key

    @classmethod
    def from_settings(
        cls, settings: Settings, endpoint: str | None = None, environ: Mapping[str, str] | None = None
    ) -> ServerlessClient:
        """The client for ``endpoint`` (else the ``serverless_endpoint`` setting) with ``RUNPOD_API_KEY``.

        Raises:
            UsageError: no endpoint id, or no API key.
        """
        chosen = endpoint or settings.serverless_endpoint
        if not chosen:
            raise UsageError("no Serverless endpoint: pass --endpoint ID or set POSE_FACTORY_SERVERLESS_ENDPOINT")
        api_key = secret("RUNPOD_API_KEY", environ)
        if not api_key:
            raise UsageError("RUNPOD_API_KEY is not set (create an API key in the RunPod console)")
        return cls(chosen, api_key, settings.serverless_api_base_url)

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        import requests

        url = f"{self.base_url}/{self.endpoint}/{path}"
        headers = {"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json"}
        what = f"RunPod Serverless {path.split('/')[0]} on endpoint {self.endpoint}"
        try:
            response = requests.request(method, url, headers=headers, json=body, timeout=defaults.RUNPOD_TIMEOUT_S)
        except requests.Timeout:
            raise PodError(f"{what}: no answer within {defaults.RUNPOD_TIMEOUT_S:g} s") from None
        except requests.RequestException as error:
            raise PodError(redact(f"{what}: {type(error).__name__}: {error}", [self._api_key])) from None
        if response.status_code == _HTTP_UNAUTHORIZED:
            raise PodError(f"{what}: RunPod rejected the API key (HTTP 401)")
        if response.status_code == _HTTP_NOT_FOUND:
            raise PodError(f"{what}: not found (HTTP 404): check the endpoint id and the request id")
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400 or not isinstance(data, dict):
            detail = data.get("error") if isinstance(data, dict) else response.text[:200]
            raise PodError(redact(f"{what}: HTTP {response.status_code} {detail or ''}".strip(), [self._api_key]))
        return data

    def run(self, manifest: JobManifest) -> str:
        """Queue ``manifest`` as a request's ``input``; returns RunPod's request id."""
        return _request_id(self._call("POST", "run", {"input": manifest.to_dict()}).get("id"))

    def status(self, request_id: str) -> RemoteStatus:
        data = self._call("GET", f"status/{_request_id(request_id)}")
        status = str(data.get("status", ""))
        if status not in _STATES:
            raise PodError(f"RunPod reported an unknown status {status[:40]!r} for request {request_id}")
        error = data.get("error")
        return RemoteStatus(request_id, status, data.get("output"), str(error) if error else "")

    def cancel(self, request_id: str) -> str:
        """Ask RunPod to cancel the request; returns the status it reports."""
        return str(self._call("POST", f"cancel/{_request_id(request_id)}").get("status", ""))


def _progress(output: Any) -> dict[str, int]:
    if isinstance(output, Mapping) and isinstance(output.get("done"), int) and isinstance(output.get("total"), int):
        return {"done": int(output["done"]), "total": int(output["total"])}
    return {"done": 0, "total": 0}


class ServerlessJobs:
    """Submit, follow and cancel jobs on a Serverless endpoint, recording them in the job store.

    ``status``, ``cancel`` and ``store`` have the shape of :class:`~.queue.JobQueue`'s, so the
    ``wait``/``status``/``cancel`` verbs (and the panel) treat both backends alike. ``endpoint`` (else
    the ``serverless_endpoint`` setting) is where :meth:`submit` sends jobs; a submitted job is
    followed on the endpoint its mapping names. ``RUNPOD_API_KEY`` is read from ``environ`` when a
    request is made.
    """

    def __init__(
        self, queue: JobQueue, settings: Settings, endpoint: str | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.queue = queue
        self.store: ObjectStore = queue.store
        self.settings = settings
        self.endpoint = endpoint or settings.serverless_endpoint
        self._environ = environ

    def _client(self, endpoint: str | None = None) -> ServerlessClient:
        return ServerlessClient.from_settings(self.settings, endpoint or self.endpoint, self._environ)

    def check_configured(self) -> str:
        """The endpoint jobs would go to; call before uploading anything.

        Raises:
            UsageError: no endpoint id, or no ``RUNPOD_API_KEY``.
        """
        return self._client().endpoint

    def submit(self, manifest: JobManifest) -> JobStatus:
        """Send the manifest to the endpoint and record ``jobs/serverless/<job_id>.json``."""
        client = self._client()
        request_id = client.run(manifest)
        record = {
            "job_id": manifest.job_id,
            "endpoint": client.endpoint,
            "request_id": request_id,
            "submitted_at": self.queue.now_iso(),
        }
        self.store.put(mapping_key(manifest.job_id), json.dumps(record, indent=2).encode("utf-8"))
        return JobStatus(
            job_id=manifest.job_id,
            job_type=manifest.job_type,
            state="pending",
            max_attempts=1,
            created_at=manifest.created_at,
            worker=f"runpod:{client.endpoint}",
        )

    def mapping(self, job_id: str) -> dict[str, str] | None:
        """``{job_id, endpoint, request_id, submitted_at}`` of a job sent to Serverless, else ``None``."""
        stored = self.store.get(mapping_key(job_id))
        if stored is None:
            return None
        try:
            record = json.loads(stored.data)
            return {
                "job_id": validate_job_id(record["job_id"]),
                "endpoint": validate_endpoint_id(record["endpoint"]),
                "request_id": _request_id(record["request_id"]),
                "submitted_at": str(record.get("submitted_at", "")),
            }
        except (ValueError, KeyError, TypeError, UsageError, PodError) as error:
            raise QueueError(f"{mapping_key(job_id)} is malformed ({error})") from None

    def status(self, job_id: str) -> JobStatus | None:
        """The job's status: final in the store if the worker wrote it, else what the endpoint says."""
        final = self.queue.final(job_id)
        if final is not None:
            return final
        record = self.mapping(job_id)
        if record is None:
            return self.queue.status(job_id)
        remote = self._client(record["endpoint"]).status(record["request_id"])
        state = _STATES[remote.status]
        if state != "completed" and self.store.exists(complete_key(job_id)):
            state = "completed"
        error = remote.error or ("RunPod timed out the request" if remote.status == "TIMED_OUT" else "")
        output = remote.output if isinstance(remote.output, Mapping) else {}
        if state == "failed" and not error and isinstance(output.get("error"), str):
            error = output["error"]
        return JobStatus(
            job_id=job_id,
            job_type=job_type_of(job_id),
            state=state,
            attempts=1 if state != "pending" else 0,
            max_attempts=1,
            progress=_progress(output.get("progress", output)),
            error=redact(error),
            worker=f"runpod:{record['endpoint']}",
            created_at=job_created_at(job_id),
            updated_at=self.queue.now_iso(),
        )

    def list_jobs(
        self, states: Sequence[str] | None = None, since: str | None = None, limit: int | None = None
    ) -> list[JobStatus]:
        """:meth:`JobQueue.list_jobs` plus the jobs still on an endpoint (no final status in the store yet).

        Costs one more LIST (``jobs/serverless/``) and, only when it names jobs, a LIST of the final
        statuses and one ``/status`` request per job still on an endpoint. A job whose endpoint cannot
        be asked is listed with its mapping's state (pending) and the reason as its error.
        """
        listed = self.queue.list_jobs(states, since, limit)
        mapped = [
            job_id for key in self.store.list(SERVERLESS) if is_job_id(job_id := key[len(SERVERLESS) :].removesuffix(".json"))
        ]
        if not mapped:
            return listed
        finished = {key[len(STATUS) :].split(".", 1)[0] for key in self.store.list(STATUS)}
        waiting = [job_id for job_id in mapped if job_id not in finished and (since is None or job_created_at(job_id) >= since)]
        if not waiting:
            return listed
        with ThreadPoolExecutor(max_workers=min(_STATUS_THREADS, len(waiting))) as pool:
            remote = list(pool.map(self._status_or_reason, waiting))
        wanted = set(states) if states else None
        jobs = listed + [job for job in remote if wanted is None or job.state in wanted]
        jobs.sort(key=lambda job: (job.state != "rejected", job.created_at, job.job_id), reverse=True)
        return jobs[:limit] if limit else jobs

    def _status_or_reason(self, job_id: str) -> JobStatus:
        try:
            status = self.status(job_id)
            if status is not None:
                return status
            reason = f"RunPod has no record of {job_id}"
        except PoseFactoryError as error:
            reason = f"cannot ask RunPod for this job: {error}"
        return JobStatus(
            job_id=job_id,
            job_type=job_type_of(job_id),
            state="pending",
            max_attempts=1,
            error=redact(reason),
            worker="runpod",
            created_at=job_created_at(job_id),
        )

    def cancel(self, job_id: str) -> JobStatus:
        """Record ``cancelled`` (the worker stops at its next image) and ask RunPod to cancel the request."""
        current = self.status(job_id)
        if current is None:
            raise QueueError(f"no job {job_id} in {self.store.url}")
        if current.state in FINAL_STATES:
            raise QueueError(f"job {job_id} is already {current.state}")
        record = self.mapping(job_id)
        now = self.queue.now_iso()
        status = replace(current, state="cancelled", updated_at=now, finished_at=now)
        self.queue.record_final(status)
        if record is not None:
            self._client(record["endpoint"]).cancel(record["request_id"])
        return status
