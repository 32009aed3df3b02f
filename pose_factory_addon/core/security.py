"""The only ways an externally supplied string may reach a file path or an object key.

Every job id, character name, output name, pod id and downloaded key goes through
:func:`safe_slug` or :func:`resolve_under` (seed audit SAFE-SLUG-001, PATH-TRAVERSAL-001).
:func:`redact` keeps secrets out of messages and logs (CREDENTIAL-001).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_UNSAFE_WITH_DOTS = re.compile(r"[^a-zA-Z0-9_.-]")
_REPEATED_UNDERSCORES = re.compile(r"_+")
# Latin letters that Unicode does not decompose into a base letter and a mark, spelled the usual ASCII way.
_LATIN_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ħ": "h",
        "Ħ": "H",
        "ı": "i",
    }
)
# Environment variables that hold credentials: never settings, never logged (redacted).
SECRET_ENV_NAMES = (
    "RUNPOD_API_KEY",
    "STABILITY_API_KEY",
    "DREAMSTUDIO_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
_MIN_SECRET_LENGTH = 4


def _ascii_letters(value: str) -> str:
    """Latin letters with accents as their base letters (``Ünïcødé`` -> ``Unicode``); other scripts are left as they are.

    NFKD also turns compatibility characters into what they stand for (fullwidth ``／`` into ``/``, ``‥``
    into ``..``), so this runs before separators and ``..`` are removed.
    """
    decomposed = unicodedata.normalize("NFKD", value.translate(_LATIN_LETTERS))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def safe_slug(value: str, max_length: int = 64, allow_dots: bool = False) -> str:
    """Turn user input into a name that is safe as one path component or key segment.

    Accented Latin letters are first spelled in ASCII (``Ünïcødé bot`` -> ``Unicode_bot``, not
    ``n_c_d_bot``). Then the semantics of the seed's ``safe_slug``: path separators and ``..`` are removed, every
    other character outside ``[A-Za-z0-9_-]`` (plus ``.`` when ``allow_dots``) becomes
    ``_``, runs of ``_`` collapse, leading and trailing ``_``/``.`` are stripped, and the
    result is cut to ``max_length``. Unlike the seed, removing ``..`` is repeated until none
    is left (``...`` would otherwise leave ``.``).

    Raises:
        ValueError: if ``value`` is empty or nothing safe is left.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("empty name is not allowed")
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    cleaned = _ascii_letters(value).replace("/", "").replace("\\", "")
    while ".." in cleaned:
        cleaned = cleaned.replace("..", "")
    slug = (_UNSAFE_WITH_DOTS if allow_dots else _UNSAFE).sub("_", cleaned)
    slug = _REPEATED_UNDERSCORES.sub("_", slug).strip("_.")
    if len(slug) > max_length:
        slug = slug[:max_length].rstrip("_.")
    if not slug:
        raise ValueError(f"{value!r} contains no safe characters")
    return slug


def is_safe_slug(value: str, max_length: int = 64, allow_dots: bool = False) -> bool:
    """True when ``value`` is already its own slug (use to *validate* rather than convert)."""
    try:
        return safe_slug(value, max_length=max_length, allow_dots=allow_dots) == value
    except ValueError:
        return False


def resolve_under(root: str | os.PathLike[str], *parts: str) -> Path:
    """Join ``parts`` below ``root`` and return the resolved path, refusing any escape.

    ``parts`` may contain ``/`` (an object key such as ``X_Bot/front.png``) but never an
    absolute path, a drive, ``..`` that leaves ``root``, or a symlink that points outside.

    Raises:
        ValueError: if the result would not be inside ``root``.
    """
    base = Path(root).resolve()
    for part in parts:
        if not isinstance(part, str) or not part:
            raise ValueError("empty path component")
        if "\x00" in part:
            raise ValueError(f"path component {part!r} contains a NUL byte")
        if part.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", part):
            raise ValueError(f"absolute path {part!r} is not allowed here")
    candidate = base.joinpath(*[p.replace("\\", "/") for p in parts]).resolve()
    if candidate != base and base not in candidate.parents:
        raise ValueError(f"{'/'.join(parts)!r} would leave {base}")
    return candidate


def known_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """The secret values currently in the environment, to be hidden from any message."""
    source = os.environ if environ is None else environ
    return [source[name] for name in SECRET_ENV_NAMES if len(source.get(name, "")) >= _MIN_SECRET_LENGTH]


def redact(message: str, secrets: Iterable[str] | None = None) -> str:
    """Replace every known secret in ``message`` with ``***``.

    ``secrets`` defaults to the credential variables of the environment; callers holding a
    secret from somewhere else (Blender preferences) pass it explicitly.
    """
    values = known_secrets() if secrets is None else [s for s in secrets if s]
    for secret in sorted({s for s in values if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message
