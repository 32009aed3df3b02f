"""Where a verb writes: a file where a folder is wanted (or the reverse) and folders that take no files are
refused up front, in one sentence that names the option, not by an ``OSError`` halfway through the work.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Final

from .errors import UsageError

IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".webp")  # what Pillow writes, chosen by the suffix


def _file_in_the_way(folder: Path) -> Path | None:
    """The existing file at ``folder`` or above it, if any (then the folder cannot exist)."""
    for candidate in (folder, *folder.parents):
        try:
            if candidate.is_dir():
                return None
            if candidate.exists():
                return candidate
        except OSError:
            return None  # an unreadable parent: creating the folder reports it with the system's reason
    return None


def refuse_file_in_the_way(folder: Path, option: str, given: Path | None = None) -> None:
    """Refuse ``folder`` when it, or a folder above it, is an existing file; creates nothing.

    ``given`` is what the user typed when that is not the folder itself (an image file inside it).

    Raises:
        UsageError: ``<option> <given> is a file, not a folder``, or names the file above it.
    """
    shown = given or folder
    blocker = _file_in_the_way(folder)
    if blocker == shown:
        raise UsageError(f"{option} {shown} is a file, not a folder")
    if blocker is not None:
        raise UsageError(f"{option} {shown}: {blocker} is a file, not a folder")


def _create_writable(folder: Path, option: str, shown: Path) -> None:
    """Create ``folder`` and prove it takes files by creating and removing a temporary file in it (which also
    catches read-only disks and what permission bits alone would not tell)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UsageError(f"{option} {shown}: cannot write there ({error.strerror or error})") from None


def writable_folder(folder: Path, option: str) -> Path:
    """``folder`` as a folder that exists and takes files, created (with its parents) when missing. Returns it.

    Raises:
        UsageError: a file is in the way, or the folder cannot be created or written (the system's reason).
    """
    refuse_file_in_the_way(folder, option)
    _create_writable(folder, option, folder)
    return folder


def image_file(path: Path, option: str) -> Path:
    """``path`` as an image file to write: it ends in an image suffix, is not a folder, and its folder takes files
    (created when missing). Returns ``path``.

    Raises:
        UsageError: a folder, no image suffix, a file in the way of its folder, or a folder that cannot be written.
    """
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give an image file name such as {path / 'contact_sheet.png'}")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(f"{option} {path}: not an image file name (end it with {', '.join(IMAGE_SUFFIXES)})")
    refuse_file_in_the_way(path.parent, option, given=path)
    _create_writable(path.parent, option, path)
    return path
