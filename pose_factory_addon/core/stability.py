"""A thin client for Stability AI's control endpoints (``v2beta/stable-image/control/structure`` and ``.../sketch``).

One method, one multipart request: ``image`` (PNG), ``prompt``, ``negative_prompt``,
``control_strength``, ``seed`` and ``output_format=png``, sent with ``Authorization: Bearer
<STABILITY_API_KEY>`` and ``Accept: image/*``; the answer is PNG bytes. Every failure is one
typed exception whose message is one sentence with the key redacted:
:class:`TransientError` (429, 5xx, network: retry), :class:`ImageRefused` (403 moderation,
413 too large, an output the content filter blurred: skip this image) or
:class:`StabilityError` (400, 401, 402, 422, ...: stop the run). ``requests`` is imported when
the first request is made. The base URL comes from ``STABILITY_API_BASE_URL`` (tests point it
at a local server).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from . import defaults
from .config import Settings, secret
from .enhance_limits import parse_retry_after
from .enhance_options import MODES
from .enhance_sizes import PNG_SIGNATURE
from .errors import EnhanceError
from .security import redact

ENDPOINTS: Final = {mode: f"/v2beta/stable-image/control/{mode}" for mode in MODES}
CREDITS_URL: Final = "https://platform.stability.ai/account/credits"
_DETAIL_CHARS: Final = 300


class StabilityError(EnhanceError):
    """Stability refused a request in a way that stops the run (``status`` is the HTTP status, 0 without one)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class TransientError(StabilityError):
    """Worth retrying: a rate limit (429), a server error (5xx), a timeout or a lost connection.

    ``retry_after`` is the server's ``Retry-After`` in seconds, ``None`` when it sent none.
    """

    def __init__(self, message: str, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class ImageRefused(StabilityError):
    """Stability will not enhance this one image (content moderation, too large, filtered output); others may go on."""


@dataclass(frozen=True)
class Generation:
    """One answer: the PNG bytes and the seed Stability reports having used (``None`` if it did not say)."""

    png: bytes
    seed: int | None


def _detail(response: Any) -> str:
    """The error list (or message) of a JSON error body, shortened; the raw text when it is not JSON."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(str(response.text or "").split())
        return text[:_DETAIL_CHARS] or "no details"
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            text = "; ".join(str(item) for item in errors)
        else:
            text = str(body.get("message") or body.get("name") or json.dumps(body))
    else:
        text = json.dumps(body)
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 3] + "..."


class StabilityClient:
    """Stability's REST API at ``base_url``; thread-safe (one HTTP session per thread)."""

    def __init__(
        self, api_key: str, base_url: str = defaults.STABILITY_API_BASE_URL, timeout: float = defaults.STABILITY_TIMEOUT_S
    ) -> None:
        if not api_key:
            raise EnhanceError(
                "STABILITY_API_KEY is not set: create a key at https://platform.stability.ai/account/keys and export it"
            )
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> StabilityClient:
        """A client for ``settings.stability_api_base_url`` with the key from ``$STABILITY_API_KEY``.

        Raises:
            EnhanceError: no key is set.
        """
        return cls(secret("STABILITY_API_KEY", environ) or "", settings.stability_api_base_url)

    def _redacted(self, text: str) -> str:
        return redact(redact(text), [self._api_key])

    def _session(self) -> Any:
        import requests

        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def control(
        self,
        mode: str,
        image_png: bytes,
        prompt: str,
        negative_prompt: str = "",
        control_strength: float = defaults.ENHANCE_CONTROL_STRENGTH,
        seed: int = 0,
    ) -> Generation:
        """Generate one image that keeps the structure (or follows the sketch) of ``image_png``.

        Raises:
            TransientError, ImageRefused, StabilityError: see the module docstring.
        """
        import requests

        if mode not in ENDPOINTS:
            raise ValueError(f"mode {mode!r} is not one of {', '.join(ENDPOINTS)}")
        url = f"{self.base_url}{ENDPOINTS[mode]}"
        fields = {"prompt": prompt, "control_strength": f"{control_strength:g}", "seed": str(seed), "output_format": "png"}
        if negative_prompt:
            fields["negative_prompt"] = negative_prompt
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "image/*", "User-Agent": "pose-factory"}
        try:
            response = self._session().post(
                url, headers=headers, data=fields, files={"image": ("image.png", image_png, "image/png")}, timeout=self.timeout
            )
        except requests.Timeout:
            raise TransientError(f"Stability did not answer within {self.timeout:g} seconds") from None
        except requests.RequestException as error:
            raise TransientError(self._redacted(f"cannot reach Stability at {self.base_url}: {type(error).__name__}")) from None
        if response.status_code == 200:
            return self._generation(response)
        raise self._error(response, mode, url)

    def _generation(self, response: Any) -> Generation:
        content_type = response.headers.get("Content-Type", "")
        if not content_type.startswith("image/") or not response.content.startswith(PNG_SIGNATURE):
            raise StabilityError(f"Stability answered HTTP 200 with {content_type or 'no content type'} instead of a PNG", 200)
        if response.headers.get("finish-reason", "SUCCESS").upper() == "CONTENT_FILTERED":
            raise ImageRefused("Stability's content filter blurred the output (finish reason CONTENT_FILTERED)", 200)
        seed = response.headers.get("seed", "")
        return Generation(response.content, int(seed) if seed.isdigit() else None)

    def _error(self, response: Any, mode: str, url: str) -> StabilityError:
        status = int(response.status_code)
        detail = self._redacted(_detail(response))
        if status == 401:
            return StabilityError("Stability rejected the API key (HTTP 401); check STABILITY_API_KEY", status)
        if status == 402:
            message = f"Stability says the account is out of credits (HTTP 402: {detail}); add credits at {CREDITS_URL}"
            return StabilityError(message, status)
        if status == 403:
            return ImageRefused(f"Stability's content moderation refused the image (HTTP 403: {detail})", status)
        if status == 404:
            return StabilityError(f"Stability has no {mode} endpoint at {url} (HTTP 404); check STABILITY_API_BASE_URL", status)
        if status == 413:
            return ImageRefused(f"the request is larger than Stability accepts (HTTP 413: {detail})", status)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            return TransientError(f"Stability's rate limit was exceeded (HTTP 429: {detail})", status, retry_after)
        if status >= 500:
            return TransientError(f"Stability had a server error (HTTP {status}: {detail})", status, retry_after)
        if status == 400:
            return StabilityError(f"Stability rejected the request as invalid (HTTP 400: {detail})", status)
        if status == 422:
            return StabilityError(f"Stability refused the request (HTTP 422: {detail})", status)
        return StabilityError(f"Stability answered HTTP {status}: {detail}", status)
