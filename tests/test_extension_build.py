"""build.py makes a zip that Blender's own validator accepts (installing it: tests/ui/test_installed_extension.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import build  # noqa: E402


def test_zip_has_manifest_package_and_wheels(extension_zip: Path) -> None:
    assert extension_zip.name == "pose_factory-0.1.0.zip"
    names = zipfile.ZipFile(extension_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "core/security.py" in names and "headless/agent.py" in names and "headless/render.py" in names
    assert any(name.startswith("wheels/boto3-") for name in names)
    for platform in ("manylinux", "macosx_11_0_arm64", "win_amd64"):
        assert any(name.startswith("wheels/pyyaml-") and platform in name for name in names), platform
        assert any(name.startswith("wheels/pillow-") and platform in name for name in names), platform
    assert not any("__pycache__" in name or name.startswith("tests/") for name in names)
    manifest = zipfile.ZipFile(extension_zip).read("blender_manifest.toml").decode()
    assert 'id = "pose_factory"' in manifest and "network =" in manifest and "files =" in manifest
    assert "./wheels/boto3-" in manifest


def test_versions_must_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "blender_manifest.toml"
    manifest.write_text(build.MANIFEST.read_text().replace('version = "0.1.0"', 'version = "9.9.9"'))
    monkeypatch.setattr(build, "MANIFEST", manifest)
    with pytest.raises(build.BuildError, match="versions disagree"):
        build.build(tmp_path)


def test_validator_rejection_fails_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "blender_manifest.toml"
    manifest.write_text(build.MANIFEST.read_text().replace('tagline = "', 'tagline = "Ends with a full stop.'))
    monkeypatch.setattr(build, "MANIFEST", manifest)
    with pytest.raises(build.BuildError, match="refused"):
        build.build(tmp_path)


@pytest.mark.bpy
def test_headless_launchers_run_from_the_installed_layout(extension_zip: Path, tmp_path: Path) -> None:
    """Blender unpacks the zip to <extensions>/<repository>/pose_factory/; the launchers must find the package there."""
    package = tmp_path / "extensions" / "user_default" / "pose_factory"
    zipfile.ZipFile(extension_zip).extractall(package)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    character = ROOT / "samples" / "characters" / "Mannequin_Slim_Wave.glb"
    render = subprocess.run(
        [sys.executable, str(package / "headless" / "render.py"), "--", str(character), "--out", str(tmp_path / "out"),
         "--angles", "1", "--preset", "preview", "--resolution", "64x64"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert render.returncode == 0, render.stderr[-2000:]
    assert (tmp_path / "out" / "Mannequin_Slim_Wave" / "front.json").is_file()
    agent = subprocess.run(
        [sys.executable, str(package / "headless" / "agent.py"), "--", "--store", (tmp_path / "store").as_uri(),
         "--workspace", str(tmp_path / "ws"), "--once"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert agent.returncode == 0, agent.stderr[-2000:]
    assert '"agent_stopped"' in agent.stderr
