"""Domain errors with messages written for the user.

Operators turn them into ``self.report({'ERROR'}, str(error))``; the CLI prints them as one
line and exits non-zero. Each class names the layer that raised it so callers can catch
exactly what they can handle.
"""

from __future__ import annotations


class PoseFactoryError(Exception):
    """Base of every error Pose Factory raises on purpose."""


class ConfigError(PoseFactoryError):
    """A setting has a bad value; the message names the key, the value and where it came from."""

    def __init__(self, key: str, value: object, source: str, reason: str) -> None:
        self.key = key
        self.value = value
        self.source = source
        self.reason = reason
        super().__init__(f"invalid setting {key}={value!r} from {source}: {reason}")


class ManifestError(PoseFactoryError):
    """A job manifest (or the request that would become one) is invalid."""


class StoreError(PoseFactoryError):
    """An object store operation failed; names the operation and the key, never credentials."""


class StoreUnreachable(StoreError):
    """The store's endpoint did not answer (``reason``: ``timeout`` or ``connection refused``) within the retries."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class QueueError(PoseFactoryError):
    """The job queue refused an operation (unknown job, wrong state, lost lease)."""


class RenderError(PoseFactoryError):
    """A character could not be imported, framed, rendered or labelled."""


class CostLimitExceeded(PoseFactoryError):
    """A job's estimated cost or size is above a configured safety limit."""


class PodError(PoseFactoryError):
    """The RunPod API refused a request or could not be reached."""


class PodBusy(PodError):
    """A pod's agent holds a job in progress, so terminating the pod would throw that work away."""

    def __init__(self, pod_id: str, job_ids: list[str]) -> None:
        self.pod_id = pod_id
        self.job_ids = job_ids
        super().__init__(
            f"pod {pod_id} is working on {', '.join(job_ids)}; wait for it, stop the pod (its agent releases the job), "
            "or terminate with --force (the job is retried by another agent once its lease expires)"
        )


class UsageError(PoseFactoryError):
    """Bad input from the user (a malformed job id, an unknown option value): exit status 2."""


class QAError(PoseFactoryError):
    """The label check could not run: no MediaPipe interpreter, the detector crashed, or an image is unreadable."""


class CharacterError(PoseFactoryError):
    """People cannot be generated: the characters interpreter is missing, or a requested body is impossible."""


class MotionError(PoseFactoryError):
    """A motion clip cannot be read or used (a broken clip or BVH file, a skeleton without the needed joints)."""


class EnhanceError(PoseFactoryError):
    """Enhancement stopped or cannot start: Stability refused (key, credits, prompt) or was unreachable, or an
    output folder holds a run with other settings."""
