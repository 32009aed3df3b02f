"""``pose-factory pods``: list, inspect, start, stop, terminate and create RunPod pods; GPU prices.

``status``, ``start``, ``stop`` and ``terminate`` act on the pod given as ``ID`` or ``--pod ID``,
else on the pod saved with ``pods use ID`` (``create`` saves the new pod too). ``list`` and
``status`` also say what each pod's agents are doing, read from the job store (``--store``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from ..core import defaults
from ..core.config import load_settings
from ..core.cost import format_usd
from ..core.errors import PodBusy, PoseFactoryError, UsageError
from ..core.pod_activity import PodActivity, busy_jobs, pods_activity, terminate_pod
from ..core.pod_state import read_pod_id, save_pod_id
from ..core.pods import Pod, RunPodClient, agent_env, validate_pod_id
from ..core.queue import JobQueue
from ._confirm import confirmed
from ._queue_args import add_store_option, open_queue
from ._tables import format_table

_DEFAULT_POD_NAME = "pose-factory-agent"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pods",
        help="control RunPod GPU pods (needs RUNPOD_API_KEY)",
        description="List, inspect, start, stop, terminate and create RunPod pods, and list GPU prices. Actions that "
        "take a pod use ID, else --pod ID, else the pod saved with `pods use ID`.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(
        name: str, help_text: str, handler: Any, takes_pod: bool = False, reads_store: bool = False
    ) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        if takes_pod:
            sub.add_argument("pod_id", nargs="?", metavar="ID", help="pod id (default: --pod, then the saved pod)")
            sub.add_argument("--pod", dest="pod_option", metavar="ID", help="pod id")
        if reads_store:
            add_store_option(sub)
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(func=handler)
        return sub

    action("list", "the account's pods: cost per hour, uptime, and what their agents do", _list_pods, reads_store=True)
    action(
        "status", "status, GPU, cost per hour, uptime and agent activity of a pod", _pod_status, takes_pod=True, reads_store=True
    )
    action("start", "start (resume) a stopped pod; its start command starts the agent", _start_pod, takes_pod=True)
    action("stop", "stop a running pod: GPU billing ends, the volume is kept (and billed)", _stop_pod, takes_pod=True)
    terminate = action(
        "terminate",
        "delete a pod and its volume for good; refuses a pod whose agent holds a job",
        _terminate_pod,
        takes_pod=True,
        reads_store=True,
    )
    terminate.add_argument("--force", action="store_true", help="terminate even if its agent holds a job (the job is retried)")
    terminate.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    action("gpus", "GPU types with prices per hour", _list_gpus)
    action(
        "env",
        "the environment variables a RunPod template needs, from your settings (keys as RunPod secret references)",
        _template_env,
    )
    use = action("use", "save the pod the other actions use by default", _use_pod)
    use.add_argument("pod_id", metavar="ID", help="pod id")
    create = action("create", "deploy a pod from a template, with the store settings in its environment", _create_pod)
    create.add_argument("--template", required=True, help="RunPod template id")
    create.add_argument("--gpu", required=True, help="GPU type id (see `pods gpus`), e.g. 'NVIDIA A40'")
    create.add_argument("--name", default=_DEFAULT_POD_NAME, help=f"pod name (default {_DEFAULT_POD_NAME})")
    create.add_argument("--image", default="", help="container image (default: the template's)")
    create.add_argument(
        "--cloud",
        default=defaults.RUNPOD_CLOUD_TYPE,
        choices=["ALL", "SECURE", "COMMUNITY"],
        help="cloud type (default %(default)s)",
    )
    create.add_argument("--gpu-count", type=int, default=defaults.RUNPOD_GPU_COUNT, help="GPUs per pod (default %(default)s)")
    create.add_argument(
        "--volume-gb", type=int, default=defaults.RUNPOD_VOLUME_GB, help="persistent volume size in GB (default %(default)s)"
    )
    create.add_argument(
        "--runpod-secrets",
        action="store_true",
        help="reference the RunPod secrets aws_access_key_id and aws_secret_access_key (and aws_session_token, "
        "stability_api_key when those are set here) instead of sending your values",
    )
    create.add_argument(
        "--disk-gb", type=int, default=defaults.RUNPOD_CONTAINER_DISK_GB, help="container disk size in GB (default %(default)s)"
    )


def _client(args: argparse.Namespace) -> RunPodClient:
    return RunPodClient.from_settings(load_settings(config_path=args.config))


def _chosen_pod(args: argparse.Namespace) -> str:
    if args.pod_id and args.pod_option and args.pod_id != args.pod_option:
        raise UsageError(f"two different pods given: {args.pod_id} and --pod {args.pod_option}")
    pod_id = args.pod_id or args.pod_option or read_pod_id()
    if not pod_id:
        raise UsageError("no pod given: pass ID or --pod ID, or save one with `pose-factory pods use ID`")
    return validate_pod_id(pod_id)


def _uptime(seconds: int) -> str:
    if seconds <= 0:
        return "-"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


def _agent_text(activity: PodActivity | None) -> str:
    """One cell of the AGENT column (``?`` when the store could not be read)."""
    return "?" if activity is None else activity.describe()


def _activities(args: argparse.Namespace, pods: list[Pod]) -> dict[str, PodActivity]:
    """What the pods' agents do, from the job store; a store that cannot be read leaves the column at ``?``."""
    running = [pod.id for pod in pods if pod.status == "RUNNING"]
    if not running:
        return {}
    try:
        queue, _settings = open_queue(args)
        return pods_activity(queue, running)
    except PoseFactoryError as error:
        print(f"pose-factory pods: agent activity unknown: {error}", file=sys.stderr)
        return {}


def _pod_dict(pod: Pod, activity: PodActivity | None) -> dict[str, Any]:
    return {**asdict(pod), "agent": asdict(activity) if activity is not None else None}


def _print_pods(pods: list[Pod], activities: dict[str, PodActivity], as_json: bool) -> None:
    if as_json:
        print(json.dumps([_pod_dict(pod, activities.get(pod.id)) for pod in pods], indent=2))
        return
    if not pods:
        print("no pods")
        return
    rows = [
        [
            pod.id,
            pod.name,
            pod.status,
            f"{pod.gpu_count}x {pod.gpu or '?'}",
            f"{format_usd(pod.cost_per_hr)}/h",
            _uptime(pod.uptime_seconds),
            _agent_text(activities.get(pod.id)) if pod.status == "RUNNING" else "-",
        ]
        for pod in pods
    ]
    print(format_table(["ID", "NAME", "STATUS", "GPU", "COST", "UPTIME", "AGENT"], rows))


def _print_pod(pod: Pod, as_json: bool, note: str = "", activity: PodActivity | None = None, show_agent: bool = False) -> None:
    if as_json:
        print(json.dumps(_pod_dict(pod, activity) if show_agent else asdict(pod), indent=2))
        return
    if note:
        print(note)
    rows = [
        ("id", pod.id),
        ("name", pod.name),
        ("status", pod.status),
        ("gpu", f"{pod.gpu_count}x {pod.gpu or '?'}"),
        ("cost", f"{format_usd(pod.cost_per_hr)}/h"),
        ("uptime", _uptime(pod.uptime_seconds)),
        ("image", pod.image or "-"),
    ]
    if show_agent:
        rows.append(("agent", _agent_text(activity) if pod.status == "RUNNING" else "-"))
    for label, value in rows:
        print(f"{label:<7} {value}")


def _list_pods(args: argparse.Namespace) -> int:
    pods = _client(args).list_pods()
    _print_pods(pods, _activities(args, pods), args.json)
    return 0


def _pod_status(args: argparse.Namespace) -> int:
    pod_id = _chosen_pod(args)
    pod = _client(args).get_pod(pod_id)
    _print_pod(pod, args.json, activity=_activities(args, [pod]).get(pod.id), show_agent=True)
    return 0


def _terminate_pod(args: argparse.Namespace) -> int:
    pod_id = _chosen_pod(args)
    client = _client(args)
    queue: JobQueue | None = None
    if not args.force:
        queue, _settings = open_queue(args)
        jobs = busy_jobs(queue, pod_id)
        if jobs:
            raise PodBusy(pod_id, jobs)
    question = f"Terminating pod {pod_id} deletes its container disk and volume for good"
    if not args.yes and not confirmed(question, "Terminate"):
        raise UsageError(f"pod {pod_id} not terminated: confirm on a terminal or pass --yes")
    terminate_pod(client, queue, pod_id, force=args.force)
    if args.json:
        print(json.dumps({"pod_id": pod_id, "terminated": True}))
    else:
        print(f"terminated pod {pod_id}; it no longer costs anything")
    return 0


def _start_pod(args: argparse.Namespace) -> int:
    pod_id = _chosen_pod(args)
    _print_pod(_client(args).resume_pod(pod_id), args.json, note=f"start requested for pod {pod_id}")
    return 0


def _stop_pod(args: argparse.Namespace) -> int:
    pod_id = _chosen_pod(args)
    _print_pod(_client(args).stop_pod(pod_id), args.json, note=f"stop requested for pod {pod_id}")
    return 0


def _use_pod(args: argparse.Namespace) -> int:
    path = save_pod_id(args.pod_id)
    if args.json:
        print(json.dumps({"pod_id": args.pod_id, "saved_in": str(path)}))
    else:
        print(f"current pod: {args.pod_id} (saved in {path})")
    return 0


def _create_pod(args: argparse.Namespace) -> int:
    settings = load_settings(config_path=args.config)
    client = RunPodClient.from_settings(settings)
    pod = client.create_pod(
        name=args.name,
        template_id=args.template,
        gpu_type_id=args.gpu,
        env=agent_env(settings, use_runpod_secrets=args.runpod_secrets),
        image_name=args.image,
        cloud_type=args.cloud,
        gpu_count=args.gpu_count,
        volume_gb=args.volume_gb,
        container_disk_gb=args.disk_gb,
    )
    save_pod_id(pod.id)
    _print_pod(pod, args.json, note=f"created pod {pod.id}; it is now the current pod")
    return 0


def _template_env(args: argparse.Namespace) -> int:
    """``KEY=VALUE`` lines for the template's environment (RunPod's raw editor); credentials are never printed."""
    env = agent_env(load_settings(config_path=args.config), use_runpod_secrets=True)
    if args.json:
        print(json.dumps(env, indent=2))
    else:
        print("\n".join(f"{key}={value}" for key, value in env.items()))
    return 0


def _list_gpus(args: argparse.Namespace) -> int:
    gpus = sorted(_client(args).gpu_types(), key=lambda gpu: (gpu.lowest_price is None, gpu.lowest_price or 0.0, gpu.id))
    if args.json:
        print(json.dumps([asdict(gpu) for gpu in gpus], indent=2))
        return 0

    def price(value: float | None) -> str:
        return "-" if value is None else f"{format_usd(value)}/h"

    rows = [
        [
            gpu.id,
            gpu.name,
            f"{gpu.memory_gb} GB",
            price(gpu.secure_price),
            price(gpu.community_price),
            price(gpu.lowest_price),
            gpu.stock or "-",
        ]
        for gpu in gpus
    ]
    print(format_table(["ID", "NAME", "MEMORY", "SECURE", "COMMUNITY", "LOWEST", "STOCK"], rows))
    return 0
