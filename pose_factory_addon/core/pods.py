"""A small RunPod GraphQL client: list, inspect, start, stop and create pods; GPU prices.

It speaks to ``<RUNPOD_API_BASE_URL>/graphql`` with ``Authorization: Bearer <RUNPOD_API_KEY>``
exactly as the ``runpod`` SDK does, but every id and value travels as a GraphQL *variable*
(the SDK interpolates them into the query text), and it needs only ``requests``, imported
when a request is made. Pod ids are checked against :data:`POD_ID_PATTERN` before any
request. Errors are :class:`~.errors.PodError` sentences; credentials passed to a new pod
are never part of a message or a log line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import defaults
from .config import Settings, secret
from .errors import PodError, UsageError

POD_ID_PATTERN = re.compile(r"^[a-z0-9]{6,32}$")
"""RunPod pod ids are short lowercase alphanumerics (14 characters today, e.g. ``ld5b9pkblr0xdu``)."""

_HTTP_UNAUTHORIZED = 401
_CLOUD_TYPES = ("ALL", "SECURE", "COMMUNITY")
_AGENT_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
"""Always passed: the store cannot be reached without them."""
_OPTIONAL_AGENT_SECRETS = ("AWS_SESSION_TOKEN", "STABILITY_API_KEY")
"""Passed when set here: temporary S3 credentials, and the key enhance jobs use."""
POD_ID_ENV = "RUNPOD_POD_ID"
"""RunPod sets it inside every pod; the agent uses it to stop its own pod and to name itself."""

_POD_FIELDS = """
    id
    name
    desiredStatus
    imageName
    gpuCount
    costPerHr
    uptimeSeconds
    machine { gpuDisplayName }
    runtime { uptimeInSeconds }
"""

LIST_PODS_QUERY = f"query Pods {{ myself {{ pods {{ {_POD_FIELDS} }} }} }}"
GET_POD_QUERY = f"query Pod($input: PodFilter!) {{ pod(input: $input) {{ {_POD_FIELDS} }} }}"
RESUME_POD_MUTATION = f"mutation PodResume($input: PodResumeInput!) {{ podResume(input: $input) {{ {_POD_FIELDS} }} }}"
STOP_POD_MUTATION = f"mutation PodStop($input: PodStopInput!) {{ podStop(input: $input) {{ {_POD_FIELDS} }} }}"
TERMINATE_POD_MUTATION = "mutation PodTerminate($input: PodTerminateInput!) { podTerminate(input: $input) }"
CREATE_POD_MUTATION = (
    "mutation PodFindAndDeployOnDemand($input: PodFindAndDeployOnDemandInput!) "
    f"{{ podFindAndDeployOnDemand(input: $input) {{ {_POD_FIELDS} }} }}"
)
GPU_TYPES_QUERY = """query GpuTypes($lowestPrice: GpuLowestPriceInput) {
  gpuTypes {
    id
    displayName
    memoryInGb
    secureCloud
    communityCloud
    securePrice
    communityPrice
    lowestPrice(input: $lowestPrice) { uninterruptablePrice stockStatus }
  }
}"""


@dataclass(frozen=True)
class Pod:
    """One pod as RunPod reports it; ``cost_per_hr`` is USD per hour, ``uptime_seconds`` 0 when not running."""

    id: str
    name: str
    status: str
    gpu: str
    gpu_count: int
    cost_per_hr: float
    uptime_seconds: int
    image: str


@dataclass(frozen=True)
class GpuType:
    """A GPU model and its on-demand prices in USD per hour per GPU (``None`` when not offered)."""

    id: str
    name: str
    memory_gb: int
    secure_price: float | None
    community_price: float | None
    lowest_price: float | None
    stock: str


def validate_pod_id(pod_id: str) -> str:
    """Return ``pod_id`` when it looks like a RunPod id, so it is safe in a request or a file.

    Raises:
        UsageError: anything else (quotes, braces, spaces, upper case, wrong length).
    """
    if not isinstance(pod_id, str) or not POD_ID_PATTERN.fullmatch(pod_id):
        raise UsageError(f"{pod_id!r} is not a RunPod pod id (6 to 32 lowercase letters and digits)")
    return pod_id


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pod_from_response(data: Mapping[str, Any]) -> Pod:
    machine = data.get("machine") or {}
    runtime = data.get("runtime") or {}
    return Pod(
        id=str(data.get("id", "")),
        name=str(data.get("name") or ""),
        status=str(data.get("desiredStatus") or "UNKNOWN"),
        gpu=str(machine.get("gpuDisplayName") or ""),
        gpu_count=int(data.get("gpuCount") or 0),
        cost_per_hr=_number(data.get("costPerHr")) or 0.0,
        uptime_seconds=int(runtime.get("uptimeInSeconds") or 0),
        image=str(data.get("imageName") or ""),
    )


def _gpu_from_response(data: Mapping[str, Any]) -> GpuType:
    lowest = data.get("lowestPrice") or {}
    return GpuType(
        id=str(data.get("id", "")),
        name=str(data.get("displayName") or data.get("id", "")),
        memory_gb=int(data.get("memoryInGb") or 0),
        secure_price=_number(data.get("securePrice")) if data.get("secureCloud", True) else None,
        community_price=_number(data.get("communityPrice")) if data.get("communityCloud", True) else None,
        lowest_price=_number(lowest.get("uninterruptablePrice")),
        stock=str(lowest.get("stockStatus") or ""),
    )


def runpod_secret_reference(name: str) -> str:
    """The template syntax RunPod replaces with the account secret ``name.lower()`` when a pod boots."""
    return f"{{{{ RUNPOD_SECRET_{name.lower()} }}}}"


def agent_env(settings: Settings, environ: Mapping[str, str] | None = None, use_runpod_secrets: bool = False) -> dict[str, str]:
    """The environment a pod's agent needs to reach the job store (and Stability AI for enhance jobs).

    The S3 credentials are copied from ``environ`` (so the values are secrets), or, with
    ``use_runpod_secrets``, replaced by references to RunPod account secrets named
    ``aws_access_key_id`` and ``aws_secret_access_key``, so they never leave this machine.
    ``AWS_SESSION_TOKEN`` and ``STABILITY_API_KEY`` are passed the same way when they are set in
    ``environ`` (as a value, or as a reference to the secret of the same name in lower case).

    Raises:
        UsageError: the store is a local folder, which a pod cannot reach.
    """
    if not settings.store.startswith("s3://"):
        raise UsageError(f"a pod needs an s3:// store it can reach; the configured store is {settings.store}")
    env = {
        "POSE_FACTORY_STORE": settings.store,
        "POSE_FACTORY_S3_REGION": settings.s3_region,
        "WORKSPACE_ROOT": settings.workspace_root,
    }
    if settings.s3_endpoint:
        env["POSE_FACTORY_S3_ENDPOINT"] = settings.s3_endpoint
    optional = [name for name in _OPTIONAL_AGENT_SECRETS if secret(name, environ)]
    for name in (*_AGENT_SECRETS, *optional):
        if use_runpod_secrets:
            env[name] = runpod_secret_reference(name)
        elif value := secret(name, environ):
            env[name] = value
    return env


def own_pod_id(environ: Mapping[str, str] | None = None) -> str | None:
    """The id of the pod this process runs in (``$RUNPOD_POD_ID``), or ``None`` off RunPod.

    Raises:
        UsageError: the variable holds something that is not a pod id.
    """
    value = (os.environ if environ is None else environ).get(POD_ID_ENV, "").strip()
    return validate_pod_id(value) if value else None


def own_pod_stopper(settings: Settings, environ: Mapping[str, str] | None = None) -> Callable[[], Pod]:
    """A call that stops the pod this process runs in, checked now so a misconfigured agent refuses to start.

    Raises:
        UsageError: ``RUNPOD_POD_ID`` or ``RUNPOD_API_KEY`` is missing (RunPod sets both inside a pod).
    """
    pod_id = own_pod_id(environ)
    if pod_id is None or not secret("RUNPOD_API_KEY", environ):
        missing = " and ".join(
            name for name, value in ((POD_ID_ENV, pod_id), ("RUNPOD_API_KEY", secret("RUNPOD_API_KEY", environ))) if not value
        )
        raise UsageError(
            f"stopping the pod when idle needs {missing} (RunPod sets both inside a pod); "
            "set POSE_FACTORY_STOP_POD_WHEN_IDLE=0 or --stop-pod-when-idle 0 to run without it"
        )
    client = RunPodClient.from_settings(settings, environ)
    return lambda: client.stop_pod(pod_id)


class RunPodClient:
    """RunPod's GraphQL API at ``<base_url>/graphql``; every method makes one request.

    Raises (every method):
        PodError: 401 ("RunPod rejected the API key"), a GraphQL error (its message), a
            timeout or an unreachable host (a plain sentence), or an unexpected answer.
    """

    def __init__(
        self, api_key: str, base_url: str = defaults.RUNPOD_API_BASE_URL, timeout: float = defaults.RUNPOD_TIMEOUT_S
    ) -> None:
        if not api_key:
            raise PodError("RUNPOD_API_KEY is not set; create an API key in the RunPod console and export it")
        self._api_key = api_key
        self.url = f"{base_url.rstrip('/')}/graphql"
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> RunPodClient:
        """A client for ``settings.runpod_api_base_url`` with the key from ``$RUNPOD_API_KEY``."""
        return cls(secret("RUNPOD_API_KEY", environ) or "", settings.runpod_api_base_url)

    def _request(self, operation: str, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        import requests

        payload: dict[str, Any] = {"query": query, "variables": dict(variables or {})}
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self._api_key}", "User-Agent": "pose-factory"}
        try:
            response = requests.post(self.url, json=payload, headers=headers, timeout=self.timeout)
        except requests.Timeout as error:
            raise PodError(f"RunPod did not answer within {self.timeout:g} seconds ({operation}); try again later") from error
        except requests.RequestException as error:
            raise PodError(f"cannot reach RunPod at {self.url} ({operation}): {type(error).__name__}") from error
        if response.status_code == _HTTP_UNAUTHORIZED:
            raise PodError("RunPod rejected the API key (HTTP 401); check RUNPOD_API_KEY")
        try:
            body = response.json()
        except ValueError as error:
            raise PodError(f"RunPod answered HTTP {response.status_code} without JSON ({operation})") from error
        if not isinstance(body, dict):
            raise PodError(f"RunPod answered HTTP {response.status_code} with unexpected JSON ({operation})")
        errors = body.get("errors")
        if errors:
            messages = [str(entry.get("message", entry)) if isinstance(entry, dict) else str(entry) for entry in errors]
            raise PodError(f"RunPod refused {operation}: {'; '.join(messages)}")
        if response.status_code >= 400 or not isinstance(body.get("data"), dict):
            raise PodError(f"RunPod answered HTTP {response.status_code} with no data ({operation})")
        data: dict[str, Any] = body["data"]
        return data

    def _pod_result(self, operation: str, data: Mapping[str, Any], field: str, pod_id: str = "") -> Pod:
        pod = data.get(field)
        if not isinstance(pod, dict):
            raise PodError(f"RunPod has no pod {pod_id}" if pod_id else f"RunPod returned no pod ({operation})")
        return _pod_from_response(pod)

    def list_pods(self) -> list[Pod]:
        """Every pod of the account the key belongs to."""
        data = self._request("list pods", LIST_PODS_QUERY)
        pods = (data.get("myself") or {}).get("pods") or []
        return [_pod_from_response(pod) for pod in pods if isinstance(pod, dict)]

    def get_pod(self, pod_id: str) -> Pod:
        """Status, GPU, cost per hour and uptime of one pod."""
        validate_pod_id(pod_id)
        data = self._request("get pod", GET_POD_QUERY, {"input": {"podId": pod_id}})
        return self._pod_result("get pod", data, "pod", pod_id)

    def resume_pod(self, pod_id: str, gpu_count: int = defaults.RUNPOD_GPU_COUNT) -> Pod:
        """Start a stopped pod with ``gpu_count`` GPUs (``podResume``)."""
        validate_pod_id(pod_id)
        data = self._request("start pod", RESUME_POD_MUTATION, {"input": {"podId": pod_id, "gpuCount": gpu_count}})
        return self._pod_result("start pod", data, "podResume", pod_id)

    def stop_pod(self, pod_id: str) -> Pod:
        """Stop a running pod; its volume stays and it can be resumed (``podStop``)."""
        validate_pod_id(pod_id)
        data = self._request("stop pod", STOP_POD_MUTATION, {"input": {"podId": pod_id}})
        return self._pod_result("stop pod", data, "podStop", pod_id)

    def terminate_pod(self, pod_id: str) -> None:
        """Delete a pod for good: its container disk and volume are gone and all billing for it ends (``podTerminate``).

        Callers that may interrupt work check :func:`~.pod_activity.busy_jobs` first (see
        :func:`~.pod_activity.terminate_pod`).
        """
        validate_pod_id(pod_id)
        self._request("terminate pod", TERMINATE_POD_MUTATION, {"input": {"podId": pod_id}})

    def create_pod(
        self,
        name: str,
        template_id: str,
        gpu_type_id: str,
        env: Mapping[str, str],
        image_name: str = "",
        cloud_type: str = defaults.RUNPOD_CLOUD_TYPE,
        gpu_count: int = defaults.RUNPOD_GPU_COUNT,
        volume_gb: int = defaults.RUNPOD_VOLUME_GB,
        container_disk_gb: int = defaults.RUNPOD_CONTAINER_DISK_GB,
    ) -> Pod:
        """Deploy an on-demand pod from a RunPod template (``podFindAndDeployOnDemand``).

        ``env`` becomes the pod's environment (store URL, S3 credentials): it is sent in the
        request body only and never appears in an error message.

        Raises:
            UsageError: an empty name, template or GPU type, an unknown ``cloud_type``, or a
                count below 1.
        """
        if cloud_type not in _CLOUD_TYPES:
            raise UsageError(f"unknown cloud type {cloud_type!r} (valid: {', '.join(_CLOUD_TYPES)})")
        if not (name and template_id and gpu_type_id):
            raise UsageError("a pod needs a name, a template id and a GPU type id")
        if min(gpu_count, volume_gb, container_disk_gb) < 1:
            raise UsageError("GPU count and disk sizes must be at least 1")
        deployment: dict[str, Any] = {
            "name": name,
            "templateId": template_id,
            "gpuTypeId": gpu_type_id,
            "cloudType": cloud_type,
            "gpuCount": gpu_count,
            "volumeInGb": volume_gb,
            "containerDiskInGb": container_disk_gb,
            "env": [{"key": key, "value": value} for key, value in env.items()],
        }
        if image_name:
            deployment["imageName"] = image_name
        data = self._request("create pod", CREATE_POD_MUTATION, {"input": deployment})
        return self._pod_result("create pod", data, "podFindAndDeployOnDemand")

    def gpu_types(self, gpu_count: int = defaults.RUNPOD_GPU_COUNT) -> list[GpuType]:
        """Every GPU type with its secure, community and lowest available price per hour."""
        data = self._request("list GPU types", GPU_TYPES_QUERY, {"lowestPrice": {"gpuCount": gpu_count}})
        return [_gpu_from_response(gpu) for gpu in data.get("gpuTypes") or [] if isinstance(gpu, dict)]
