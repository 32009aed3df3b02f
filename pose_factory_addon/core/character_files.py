"""Which character files a user means: files and folders in, one file per character out, named by safe slugs.

Shared by the command line, the Blender panel and the worker, so a folder renders the same
characters wherever it is given. ``x.glb`` and ``x.fbx`` side by side (as ``pose-factory
characters generate`` writes them) are one character, taken in the format that imports
fastest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from .errors import UsageError
from .manifest import CHARACTER_EXTENSIONS
from .security import safe_slug

FORMAT_PREFERENCE: Final = ("glb", "gltf", "fbx")
_SUFFIXES: Final = ", ".join("." + ext for ext in CHARACTER_EXTENSIONS)


def _rank(name: str) -> int:
    return FORMAT_PREFERENCE.index(Path(name).suffix.lower().lstrip("."))


def preferred_character_file(names: Iterable[str]) -> str:
    """The file of one character to import, among its formats (``x.fbx``, ``x.glb`` -> ``x.glb``)."""
    return min(names, key=_rank)


def _one_per_character(files: Iterable[Path]) -> list[Path]:
    chosen: dict[tuple[Path, str], Path] = {}
    for item in files:
        key = (item.parent, item.stem)
        if key not in chosen or _rank(item.name) < _rank(chosen[key].name):
            chosen[key] = item
    return sorted(chosen.values())


def character_files(paths: Sequence[str | Path]) -> dict[str, Path]:
    """Character files named by their safe slug: each path is a file or a folder searched recursively.

    Raises:
        UsageError: a path is missing or unreadable, a file has an unsupported type, nothing was
            found, or two files would get the same name.
    """
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            if path.is_dir():
                candidates = _one_per_character(
                    item for item in path.rglob("*") if item.is_file() and item.suffix.lower().lstrip(".") in CHARACTER_EXTENSIONS
                )
            elif path.is_file():
                if path.suffix.lower().lstrip(".") not in CHARACTER_EXTENSIONS:
                    raise UsageError(
                        f"{path}: unsupported file type (use {', '.join('.' + ext for ext in CHARACTER_EXTENSIONS)})"
                    )
                candidates = [path]
            else:
                raise UsageError(f"{path}: no such file or folder")
        except OSError as error:
            raise UsageError(f"{path}: cannot be read ({error.strerror or error})") from None
        for candidate in candidates:
            try:
                name = safe_slug(candidate.stem)
            except ValueError as error:
                raise UsageError(f"{candidate}: {error}") from None
            if name in found and found[name].resolve() != candidate.resolve():
                raise UsageError(f"{candidate} and {found[name]} would both be named {name!r}; rename one")
            found[name] = candidate
    if not found:
        raise UsageError(
            f"no character files ({', '.join('.' + ext for ext in CHARACTER_EXTENSIONS)}) in {', '.join(map(str, paths))}"
        )
    return found
