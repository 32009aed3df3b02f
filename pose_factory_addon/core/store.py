"""A tiny object store interface and its two implementations: a local folder and S3 (R2).

The job queue (:mod:`pose_factory_addon.core.queue`) is written once against
:class:`ObjectStore`. Both stores give the same guarantees:

- ``put_if_absent`` creates a key only if it does not exist (the claim of a job, the
  ``_complete.json`` commit), atomically across processes and machines;
- ``put_if_match`` replaces a key only if its ETag is still the one the caller read
  (compare-and-swap: lease renewal and takeover, status updates);
- readers never see a half-written object.

Keys are ``/``-separated names of safe segments (letters, digits, ``_ . -``; no ``..``, no
leading dot); every key is validated before it reaches a path or a request. Errors are
:class:`StoreError` naming the operation and the key, never credentials.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import unquote, urlparse

from . import defaults
from .config import Settings, secret
from .errors import StoreError, StoreUnreachable
from .security import redact, resolve_under

_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_MAX_KEY_LENGTH = 1024
_COPY_CHUNK_BYTES = 1024 * 1024
_LOCK_NAME = ".lock"
_TEMP_PREFIX = ".tmp-"
_T = TypeVar("_T")
_log = logging.getLogger(__name__)


def validate_key(key: str) -> str:
    """Return ``key`` if every segment is safe, else raise ``StoreError``.

    Safe: 1–1024 characters, segments of ``[A-Za-z0-9_.-]`` that do not start with ``.``
    (so ``.``, ``..`` and hidden temp files can never be addressed).
    """
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY_LENGTH:
        raise StoreError(f"invalid object key {key!r}: must be 1 to {_MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if not _SEGMENT.match(segment):
            raise StoreError(f"invalid object key {key!r}: segment {segment!r} is not a safe name")
    return key


def is_valid_key(key: str) -> bool:
    """True when :func:`validate_key` accepts ``key``."""
    try:
        validate_key(key)
    except StoreError:
        return False
    return True


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_COPY_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredObject:
    """An object's bytes and the ETag to pass to :meth:`ObjectStore.put_if_match`."""

    data: bytes
    etag: str


class ObjectStore(ABC):
    """The operations the queue needs; keys are validated by :func:`validate_key`."""

    url: str

    @abstractmethod
    def get(self, key: str) -> StoredObject | None:
        """The object, or ``None`` if the key does not exist."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """True if the key exists (without reading its content)."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> str:
        """Create or replace the object; returns its new ETag."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> str | None:
        """Create the object only if the key does not exist: the new ETag, or ``None`` if it existed."""

    @abstractmethod
    def put_if_match(self, key: str, data: bytes, etag: str) -> str | None:
        """Replace the object only if its ETag is ``etag``: the new ETag, or ``None`` if it changed or is gone."""

    @abstractmethod
    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        """Keys starting with ``prefix`` (a folder such as ``jobs/pending/``), sorted; the first ``limit`` only if given."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error."""

    def delete_many(self, keys: Sequence[str]) -> None:
        """Remove several objects (missing ones are fine); S3 sends one request per 1,000 keys.

        The order in which one call removes its keys is not defined: callers that need an order
        make two calls.
        """
        for key in keys:
            self.delete(key)

    @property
    def requests_sent(self) -> int:
        """Requests sent to a remote store so far (0 for a local folder); for logs and benchmarks."""
        return 0

    @abstractmethod
    def upload_file(self, key: str, path: str | os.PathLike[str]) -> str:
        """Stream a local file to ``key`` (create or replace); returns the ETag."""

    @abstractmethod
    def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Stream ``key`` to a local file; the file appears complete or not at all.

        Raises:
            StoreError: if the key does not exist or the transfer fails.
        """


def _content_etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _fail(operation: str, key: str, reason: object) -> StoreError:
    return StoreError(redact(f"{operation} {key}: {reason}"))


class _StoreLock:
    """An exclusive lock on ``<root>/.lock`` shared by every process using the folder."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @contextmanager
    def held(self) -> Iterator[None]:
        handle = open(self._path, "a+b")  # noqa: SIM115 - closed in finally after unlocking
        try:
            if sys.platform == "win32":
                import msvcrt

                handle.seek(0)
                while True:
                    try:
                        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                        break
                    except OSError:
                        time.sleep(0.05)
                try:
                    yield
                finally:
                    handle.seek(0)
                    msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            handle.close()


class LocalStore(ObjectStore):
    """A folder as an object store (the embedded default; ``file:///…`` URLs and plain paths).

    Objects are files at ``<root>/<key>``. Every write goes to a temp file in the target's
    folder and lands with ``os.replace`` (atomic), so readers never see partial content.
    Conditional writes check and replace under one lock file (``<root>/.lock``) so they are
    atomic across processes; lock holders only compare and rename, never copy.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise _fail("open", str(self.root), "a file, not a folder") from None
        except OSError as error:
            raise _fail("open", str(self.root), error.strerror) from None
        self.url = self.root.as_uri()
        self._lock = _StoreLock(self.root / _LOCK_NAME)

    def _path(self, operation: str, key: str) -> Path:
        validate_key(key)
        try:
            return resolve_under(self.root, key)
        except ValueError as error:
            raise _fail(operation, key, error) from None

    def _temp_copy(self, path: Path, source: IO[bytes] | bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
        with os.fdopen(descriptor, "wb") as handle:
            if isinstance(source, bytes):
                handle.write(source)
            else:
                shutil.copyfileobj(source, handle, _COPY_CHUNK_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
        return Path(name)

    @staticmethod
    def _read(path: Path) -> StoredObject | None:
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return StoredObject(data, _content_etag(data))

    def get(self, key: str) -> StoredObject | None:
        path = self._path("get", key)
        try:
            return self._read(path)
        except OSError as error:
            raise _fail("get", key, error.strerror) from None

    def exists(self, key: str) -> bool:
        return self._path("exists", key).is_file()

    def _write(
        self, operation: str, key: str, data: bytes, condition: Callable[[StoredObject | None], bool] | None
    ) -> str | None:
        path = self._path(operation, key)
        temp: Path | None = None
        try:
            temp = self._temp_copy(path, data)
            with self._lock.held():
                if condition is not None and not condition(self._read(path)):
                    return None
                os.replace(temp, path)
                temp = None
            return _content_etag(data)
        except OSError as error:
            raise _fail(operation, key, error.strerror or error) from None
        finally:
            if temp is not None:
                temp.unlink(missing_ok=True)

    def put(self, key: str, data: bytes) -> str:
        etag = self._write("put", key, data, None)
        assert etag is not None
        return etag

    def put_if_absent(self, key: str, data: bytes) -> str | None:
        return self._write("put_if_absent", key, data, lambda current: current is None)

    def put_if_match(self, key: str, data: bytes, etag: str) -> str | None:
        return self._write("put_if_match", key, data, lambda current: current is not None and current.etag == etag)

    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        folder, _, _ = prefix.rpartition("/")
        start = self._path("list", folder) if folder else self.root
        if not start.is_dir():
            return []
        keys = []
        for directory, subdirectories, files in os.walk(start):
            subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
            for name in files:
                key = Path(directory, name).relative_to(self.root).as_posix()
                if key.startswith(prefix) and is_valid_key(key):
                    keys.append(key)
        return sorted(keys)[:limit]

    def delete(self, key: str) -> None:
        path = self._path("delete", key)
        try:
            with self._lock.held():
                path.unlink(missing_ok=True)
        except OSError as error:
            raise _fail("delete", key, error.strerror) from None

    def upload_file(self, key: str, path: str | os.PathLike[str]) -> str:
        target = self._path("upload", key)
        temp: Path | None = None
        try:
            with open(path, "rb") as source:
                temp = self._temp_copy(target, source)
            etag = sha256_file(temp)[:32]
            with self._lock.held():
                os.replace(temp, target)
                temp = None
            return etag
        except OSError as error:
            raise _fail("upload", key, error.strerror or error) from None
        finally:
            if temp is not None:
                temp.unlink(missing_ok=True)

    def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        source = self._path("download", key)
        if not source.is_file():
            raise _fail("download", key, "no such object")
        _atomic_local_write(Path(path), lambda handle: _copy_file_into(source, handle), "download", key)


def _copy_file_into(source: Path, handle: IO[bytes]) -> None:
    with open(source, "rb") as reader:
        shutil.copyfileobj(reader, handle, _COPY_CHUNK_BYTES)


def _atomic_local_write(target: Path, fill: Callable[[IO[bytes]], None], operation: str, key: str) -> None:
    """Write ``target`` through a temp file in its folder so it is complete or absent."""
    temp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
        with os.fdopen(descriptor, "wb") as handle:
            fill(handle)
        os.replace(temp, target)
        temp = None
    except OSError as error:
        raise _fail(operation, key, error.strerror or error) from None
    finally:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)


_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "TooManyRequests",
        "ConditionalRequestConflict",
    }
)
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})
_DELETE_BATCH = 1000  # S3's limit of keys per DeleteObjects request
_SMALL_UPLOAD_BYTES = 8 * 1024 * 1024
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def _connection_failure(error: Exception) -> str:
    """Why a request got no answer, in a few words: ``connection refused``, ``unknown host``, ``timeout``, ...

    Read from the exception types botocore's error wraps (urllib3's, then the socket's), not from their text.
    """
    from botocore.exceptions import ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError

    if isinstance(error, ConnectTimeoutError | ReadTimeoutError):
        return "timeout"
    if isinstance(error, ConnectionClosedError):
        return "connection closed"
    wrapped: BaseException | None = getattr(error, "kwargs", {}).get("error")
    while wrapped is not None:
        if isinstance(wrapped, ConnectionRefusedError):
            return "connection refused"
        if isinstance(wrapped, socket.gaierror):
            return "unknown host"
        if isinstance(wrapped, TimeoutError):
            return "timeout"
        wrapped = wrapped.__cause__ or wrapped.__context__
    return "cannot connect"


class S3Store(ObjectStore):
    """An S3-compatible bucket (Cloudflare R2, AWS, SeaweedFS) below an optional key prefix.

    Conditional writes use ``IfNoneMatch='*'`` and ``IfMatch=<etag>`` (HTTP 412 when they
    lose). Throttling, 5xx answers, timeouts and connection errors are retried with
    exponential backoff (0.2 s doubling up to 5 s) for up to ``retry_seconds``, so an
    endpoint that restarts or blips does not fail a job. Until the endpoint has answered
    once, though, failing to reach it is retried for ``connect_retry_seconds`` only: a
    wrong or unreachable endpoint is reported in seconds, not after a silent minute. A
    conditional write whose retry answers 412 is checked against the stored content: if it
    holds exactly what we sent, the earlier attempt landed and the write counts as ours.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint: str = "",
        region: str = "auto",
        retry_seconds: float = defaults.S3_RETRY_S,
        connect_retry_seconds: float = defaults.S3_CONNECT_RETRY_S,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            validate_key(self.prefix)
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.retry_seconds = retry_seconds
        self.connect_retry_seconds = min(connect_retry_seconds, retry_seconds)
        self._answered = False  # set once the endpoint answered a request: from then on it is known to exist
        self._retrying = threading.Event()  # a retry notice was given and nothing has succeeded since
        config = Config(
            signature_version="s3v4",
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"total_max_attempts": 1, "mode": "standard"},
            parameter_validation=False,  # every key is validated before a request; botocore's check costs 0.2 ms a call
            connect_timeout=defaults.S3_CONNECT_TIMEOUT_S,
            read_timeout=defaults.S3_READ_TIMEOUT_S,
            s3={"addressing_style": "path"} if endpoint else {},
        )
        session = boto3.session.Session()
        # Nothing here reads a timestamp from a response; botocore would parse each one with dateutil
        # (about 0.2 ms apiece: 10 ms for every LIST of 64 keys an agent makes per poll).
        session._session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
        self._client = session.client(
            "s3",
            endpoint_url=endpoint or None,
            region_name=region or "auto",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=session_token,
            config=config,
        )
        self._secrets = [value for value in (access_key, secret_key, session_token) if value]
        self._sent = 0
        self._client.meta.events.register("before-send.s3", self._count_request)

    def _count_request(self, **_kwargs: Any) -> None:
        self._sent += 1

    @property
    def requests_sent(self) -> int:
        return self._sent

    def _full(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, operation: str, key: str, reason: object) -> StoreError:
        return StoreError(redact(redact(f"{operation} {self.url}/{key}: {reason}"), self._secrets))

    @property
    def endpoint(self) -> str:
        """The endpoint URL requests go to (botocore's AWS URL when none was configured)."""
        return str(self._client.meta.endpoint_url)

    def _unreachable(self, operation: str, key: str, reason: str, seconds: float) -> StoreUnreachable:
        message = f"{operation} {self.url}/{key}: endpoint {self.endpoint} unreachable ({reason}) after {seconds:.0f} s"
        return StoreUnreachable(redact(redact(message), self._secrets), reason)

    def _call(self, operation: str, key: str, request: Callable[[int], _T]) -> _T:
        """Run ``request(attempt)``, retrying transient failures with exponential backoff.

        Throttling and 5xx answers are retried for ``retry_seconds``; so are failures to reach the
        endpoint once it has answered in this process. Before that they are retried for
        ``connect_retry_seconds``, and no attempt starts that would end after it if it took as long
        as the last one (a connect timeout takes seconds, a refused connection none). The first
        retry of a call is logged as a warning: a line on the CLI's stderr, an event in the agent's
        log, so nobody waits in silence; calls that fail together give one notice.
        """
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        started = time.monotonic()
        delay = defaults.S3_RETRY_FIRST_DELAY_S
        attempt = 1
        while True:
            budget, attempt_started = self.retry_seconds, time.monotonic()
            try:
                result = request(attempt)
            except NoCredentialsError:
                raise self._error(operation, key, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
            except ClientError as error:
                self._answered = True
                code = str(error.response.get("Error", {}).get("Code", ""))
                status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
                problem = f"{code or status} {error.response.get('Error', {}).get('Message', '')}".strip()
                transient = code in _RETRYABLE_CODES or status >= 500 or status == 429
                if not transient or time.monotonic() + delay > started + budget:
                    raise self._error(operation, key, problem) from None
                notice = f"{self.endpoint} answered {problem}"
            except (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError) as error:
                reason = _connection_failure(error)
                now = time.monotonic()
                if not self._answered:
                    budget = self.connect_retry_seconds
                if now + delay + (now - attempt_started) > started + budget:
                    raise self._unreachable(operation, key, reason, time.monotonic() - started) from None
                notice = f"cannot reach {self.endpoint} yet ({reason})"
            except BotoCoreError as error:
                raise self._error(operation, key, error) from None
            else:
                self._answered = True
                self._retrying.clear()
                return result
            if attempt == 1 and not self._retrying.is_set():
                self._retrying.set()  # calls running side by side (a listing of three folders) give one notice
                _log.warning(redact(f"{notice}, retrying for up to {budget:.0f} s..."), extra={"event": "store_retrying"})
            time.sleep(delay)
            delay = min(delay * 2, defaults.S3_RETRY_MAX_DELAY_S)
            attempt += 1

    @staticmethod
    def _code(error: Exception) -> str:
        response: dict[str, Any] = getattr(error, "response", {}) or {}
        return str(response.get("Error", {}).get("Code", ""))

    def get(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        full = self._full(key)

        def request(_attempt: int) -> StoredObject | None:
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=full)
            except ClientError as error:
                if self._code(error) in _MISSING_CODES:
                    return None
                raise
            return StoredObject(response["Body"].read(), str(response["ETag"]))

        return self._call("get", key, request)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        full = self._full(key)

        def request(_attempt: int) -> bool:
            try:
                self._client.head_object(Bucket=self.bucket, Key=full)
            except ClientError as error:
                if self._code(error) in _MISSING_CODES:
                    return False
                raise
            return True

        return self._call("exists", key, request)

    def put(self, key: str, data: bytes) -> str:
        full = self._full(key)
        return self._call(
            "put", key, lambda _attempt: str(self._client.put_object(Bucket=self.bucket, Key=full, Body=data)["ETag"])
        )

    def _conditional_put(self, operation: str, key: str, data: bytes, condition: dict[str, str]) -> str | None:
        from botocore.exceptions import ClientError

        full = self._full(key)

        def request(attempt: int) -> str | None:
            try:
                return str(self._client.put_object(Bucket=self.bucket, Key=full, Body=data, **condition)["ETag"])
            except ClientError as error:
                code = self._code(error)
                if code in _PRECONDITION_CODES or (code in _MISSING_CODES and "IfMatch" in condition):
                    if attempt > 1:
                        current = self.get(key)
                        if current is not None and current.data == data:
                            return current.etag
                    return None
                raise

        return self._call(operation, key, request)

    def put_if_absent(self, key: str, data: bytes) -> str | None:
        return self._conditional_put("put_if_absent", key, data, {"IfNoneMatch": "*"})

    def put_if_match(self, key: str, data: bytes, etag: str) -> str | None:
        return self._conditional_put("put_if_match", key, data, {"IfMatch": etag})

    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""

        def request(_attempt: int) -> list[str]:
            keys: list[str] = []
            paginator = self._client.get_paginator("list_objects_v2")
            pages = {"MaxItems": limit, "PageSize": min(limit, 1000)} if limit else {}
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base + prefix, PaginationConfig=pages):
                for item in page.get("Contents", []):
                    key = str(item["Key"])[len(base) :]
                    if is_valid_key(key):
                        keys.append(key)
            return sorted(keys)[:limit]

        return self._call("list", prefix or "/", request)

    def delete(self, key: str) -> None:
        full = self._full(key)
        self._call("delete", key, lambda _attempt: self._client.delete_object(Bucket=self.bucket, Key=full))

    def delete_many(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = list(keys[start : start + _DELETE_BATCH])
            objects = [{"Key": self._full(key)} for key in batch]

            def request(_attempt: int, objects: list[dict[str, str]] = objects) -> Any:
                return self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

            try:
                response = self._call("delete", batch[0], request)
            except StoreError:
                # A server without DeleteObjects (or one that refuses its checksum) still deletes one by one.
                for key in batch:
                    self.delete(key)
                continue
            errors = [item for item in response.get("Errors", []) if str(item.get("Code")) not in _MISSING_CODES]
            if errors:
                first = errors[0]
                raise self._error("delete", batch[0], f"{first.get('Code')} {first.get('Message', '')}")

    def upload_file(self, key: str, path: str | os.PathLike[str]) -> str:
        full = self._full(key)

        def request(_attempt: int) -> str:
            with open(path, "rb") as handle:
                # botocore sends a file with `Expect: 100-continue` and waits for the server's go-ahead: a
                # round trip that costs more than sending a small file (labels, images) outright.
                small = os.fstat(handle.fileno()).st_size <= _SMALL_UPLOAD_BYTES
                body: IO[bytes] | bytes = handle.read() if small else handle
                return str(self._client.put_object(Bucket=self.bucket, Key=full, Body=body)["ETag"])

        try:
            return self._call("upload", key, request)
        except OSError as error:
            raise self._error("upload", key, error.strerror or error) from None

    def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        from botocore.exceptions import ClientError

        full = self._full(key)

        def request(_attempt: int) -> None:
            def fill(handle: IO[bytes]) -> None:
                response = self._client.get_object(Bucket=self.bucket, Key=full)
                for chunk in response["Body"].iter_chunks(_COPY_CHUNK_BYTES):
                    handle.write(chunk)

            try:
                _atomic_local_write(Path(path), fill, "download", key)
            except ClientError as error:
                if self._code(error) in _MISSING_CODES:
                    raise self._error("download", key, "no such object") from None
                raise

        self._call("download", key, request)


def open_store(url: str, settings: Settings | None = None, environ: Mapping[str, str] | None = None) -> ObjectStore:
    """The store for ``url``: ``file:///folder``, a plain folder path, or ``s3://bucket/prefix``.

    S3 settings come from ``settings`` (``s3_endpoint``, ``s3_region``); credentials from the
    environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, and ``AWS_SESSION_TOKEN`` for
    temporary credentials such as R2's or AWS STS's; ``environ`` replaces
    ``os.environ``, for keys typed into Blender's preferences), falling back to boto3's own
    credential chain.
    """
    text = url.strip()
    if text.startswith("s3://"):
        parsed = urlparse(text)
        bucket = parsed.netloc
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket or ""):
            raise StoreError(f"invalid store URL {text!r}: expected s3://bucket/prefix with a valid bucket name")
        return S3Store(
            bucket,
            parsed.path.strip("/"),
            endpoint=settings.s3_endpoint if settings else "",
            region=settings.s3_region if settings else "auto",
            access_key=secret("AWS_ACCESS_KEY_ID", environ),
            secret_key=secret("AWS_SECRET_ACCESS_KEY", environ),
            session_token=secret("AWS_SESSION_TOKEN", environ),
        )
    if text.startswith("file://"):
        parsed = urlparse(text)
        if parsed.netloc not in ("", "localhost"):
            raise StoreError(f"invalid store URL {text!r}: file URLs must be file:///absolute/path")
        path = unquote(parsed.path)
        if sys.platform == "win32" and re.match(r"^/[A-Za-z]:", path):
            path = path[1:]
        return LocalStore(path)
    if "://" in text or not text:
        raise StoreError(f"invalid store URL {text!r}: expected file:///folder, a folder path, or s3://bucket/prefix")
    return LocalStore(text)
