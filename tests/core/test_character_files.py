"""Character files are judged by their first bytes before Blender is involved: accurate one-line refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pose_factory_addon.core.character_files import character_file_problem, character_files
from pose_factory_addon.core.errors import UsageError

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "characters"
ASCII_FBX = b"; FBX 7.4.0 project file\n; Copyright (C) 1997-2015 Autodesk Inc.\n; ----\n\nFBXHeaderExtension:  {\n"


def _gltf(asset: object) -> bytes:
    return json.dumps({"asset": asset, "scenes": [], "nodes": []}).encode()


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("notes.fbx", b"These are my notes, renamed by mistake.\n", "not a binary FBX file"),
        ("empty.fbx", b"", "empty file"),
        ("empty.glb", b"", "empty file"),
        ("ascii.fbx", ASCII_FBX, "ASCII FBX is not supported: re-export as binary FBX"),
        ("bom_ascii.fbx", b"\xef\xbb\xbf" + ASCII_FBX, "ASCII FBX is not supported: re-export as binary FBX"),
        ("photo.glb", b"\x89PNG\r\n\x1a\n" + bytes(64), "not a glTF file (neither binary glTF nor JSON)"),
        ("text.gltf", b"hello", "not a glTF file (neither binary glTF nor JSON)"),
        ("other.gltf", b'{"scenes": []}', 'not a glTF file (neither binary glTF nor JSON with an "asset" object)'),
        ("broken.gltf", b'{"asset": ', 'not a glTF file (neither binary glTF nor JSON with an "asset" object)'),
        ("old.gltf", _gltf({"version": "1.0"}), "glTF version '1.0' is not supported (glTF 2.0 only)"),
    ],
)
def test_content_blender_cannot_import_is_named(tmp_path: Path, name: str, content: bytes, problem: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert character_file_problem(path) == problem
    with pytest.raises(UsageError) as caught:
        character_files([path])
    assert str(caught.value) == f"{path}: {problem}"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("json.gltf", _gltf({"version": "2.0", "generator": "test"})),
        ("json_named.glb", _gltf({"version": "2.0"})),  # Blender reads glTF JSON whatever the extension
        ("binary_named.gltf", b"glTF\x02\x00\x00\x00" + bytes(16)),
    ],
)
def test_gltf_is_recognised_by_content(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert character_file_problem(path) is None


def test_the_bundled_samples_pass() -> None:
    samples = sorted(SAMPLES.iterdir())
    assert {path.suffix for path in samples} >= {".fbx", ".glb"}
    assert [character_file_problem(path) for path in samples] == [None] * len(samples)
    assert len(character_files([SAMPLES])) == len(samples)


def test_one_bad_file_in_a_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "characters"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(SAMPLES / "Mannequin_Slim_Wave.glb", folder / "Good.glb")
    (folder / "nested" / "Renamed.fbx").write_text("hello\n")
    (folder / "readme.txt").write_text("not a character, so not looked at\n")
    with pytest.raises(UsageError, match=r"nested/Renamed\.fbx: not a binary FBX file$"):
        character_files([folder])
    (folder / "nested" / "Renamed.fbx").unlink()
    assert list(character_files([folder])) == ["Good"]


def test_a_file_name_with_accents_keeps_its_letters(tmp_path: Path) -> None:
    path = tmp_path / "Ünïcødé bot.glb"
    shutil.copy(SAMPLES / "Mannequin_Slim_Wave.glb", path)
    assert character_files([path]) == {"Unicode_bot": path}
