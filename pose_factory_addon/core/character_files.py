"""Which character files a user means: files and folders in, one file per character out, named by safe slugs.

Shared by the command line, the Blender panel and the worker, so a folder renders the same
characters wherever it is given. ``x.glb`` and ``x.fbx`` side by side (as ``pose-factory
characters generate`` writes them) are one character, taken in the format that imports
fastest.

Each file's first bytes are checked against what Blender's importers accept
(:func:`character_file_problem`), so a text file renamed ``.fbx``, an empty file or an ASCII
FBX is refused with a plain sentence before Blender starts, not by the importer's message
minutes into a render or a queued job.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final

from .errors import UsageError
from .manifest import CHARACTER_EXTENSIONS
from .security import safe_slug

FORMAT_PREFERENCE: Final = ("glb", "gltf", "fbx")
FBX_BINARY_MAGIC: Final = b"Kaydara FBX Binary  \x00"  # every binary FBX starts so; Blender reads no other FBX
FBX_ASCII_COMMENT: Final = b";"  # ASCII FBX files open with "; FBX 7.4.0 project file" comment lines
GLB_MAGIC: Final = b"glTF"  # binary glTF; Blender's importer reads it (or glTF JSON) whatever the extension
GLTF_VERSION: Final = "2.0"  # the only glTF version Blender imports
_SUFFIXES: Final = ", ".join("." + ext for ext in CHARACTER_EXTENSIONS)
_UTF8_BOM: Final = b"\xef\xbb\xbf"


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


def _gltf_json_problem(path: Path) -> str | None:
    """What keeps ``path`` from being glTF JSON (an object with an ``asset`` of version 2.0), or ``None``."""
    try:
        document = json.loads(path.read_bytes().removeprefix(_UTF8_BOM))
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("asset"), dict):
        return 'not a glTF file (neither binary glTF nor JSON with an "asset" object)'
    version = document["asset"].get("version")
    if version != GLTF_VERSION:
        return f"glTF version {version!r} is not supported (glTF {GLTF_VERSION} only)"
    return None


def character_file_problem(path: Path) -> str | None:
    """Why Blender's importers would refuse ``path``, judged from its content, or ``None`` when it looks importable.

    FBX must be binary (``Kaydara FBX Binary``); ``.glb`` and ``.gltf`` must be binary glTF or glTF
    2.0 JSON. The answer is a phrase for the caller to put after the file's name (``not a binary FBX
    file``, ``empty file``); an unreadable file is a problem too. Rigs are not judged here: that needs Blender
    (``pose-factory submit --check``).
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(len(FBX_BINARY_MAGIC))
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    if not head:
        return "empty file"
    if path.suffix.lower() == ".fbx":
        if head.startswith(FBX_BINARY_MAGIC):
            return None
        if head.removeprefix(_UTF8_BOM).lstrip().startswith(FBX_ASCII_COMMENT):
            return "ASCII FBX is not supported: re-export as binary FBX"
        return "not a binary FBX file"
    if head.startswith(GLB_MAGIC):
        return None
    if not head.removeprefix(_UTF8_BOM).lstrip().startswith(b"{"):
        return "not a glTF file (neither binary glTF nor JSON)"
    return _gltf_json_problem(path)


def _files_below(folder: Path) -> Iterator[Path]:
    """Every file below ``folder``; a subfolder that cannot be listed raises instead of being skipped."""

    def refuse(error: OSError) -> None:
        raise error

    for directory, _folders, names in os.walk(folder, onerror=refuse):
        for name in names:
            yield Path(directory, name)


def _is_character(path: Path) -> bool:
    return path.suffix.lower().lstrip(".") in CHARACTER_EXTENSIONS and path.is_file()


def character_files(paths: Sequence[str | Path]) -> dict[str, Path]:
    """Character files named by their safe slug: each path is a file or a folder searched recursively.

    Raises:
        UsageError: a path is missing or unreadable, a file has an unsupported type or content
            Blender cannot import (:func:`character_file_problem`), nothing was found, or two
            files would get the same name.
    """
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            if path.is_dir():
                candidates = _one_per_character(item for item in _files_below(path) if _is_character(item))
            elif path.is_file():
                if path.suffix.lower().lstrip(".") not in CHARACTER_EXTENSIONS:
                    raise UsageError(f"{path}: unsupported file type (use {_SUFFIXES})")
                candidates = [path]
            else:
                raise UsageError(f"{path}: no such file or folder")
        except OSError as error:
            raise UsageError(f"{error.filename or path}: cannot be read ({error.strerror or error})") from None
        for candidate in candidates:
            problem = character_file_problem(candidate)
            if problem is not None:
                raise UsageError(f"{candidate}: {problem}")
            try:
                name = safe_slug(candidate.stem)
            except ValueError as error:
                raise UsageError(f"{candidate}: {error}") from None
            if name in found and found[name].resolve() != candidate.resolve():
                raise UsageError(f"{candidate} and {found[name]} would both be named {name!r}; rename one")
            found[name] = candidate
    if not found:
        raise UsageError(f"no character files ({_SUFFIXES}) in {', '.join(map(str, paths))}")
    return found
