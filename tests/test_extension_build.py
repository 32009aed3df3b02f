"""build.py makes a zip that Blender's own validator accepts and Blender's extension machinery installs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import build  # noqa: E402

INSTALL_PROBE = """
import json, os, sys
import bpy, addon_utils
module = "bl_ext.user_default.pose_factory"
bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
enabled = addon_utils.check(module)[1]
site = os.path.join(os.environ["BLENDER_USER_RESOURCES"], "extensions", ".local", "lib", "python3.11", "site-packages")
wheels = sorted(name for name in os.listdir(site) if name in ("boto3", "yaml", "botocore"))
operators = sorted(name for name in dir(bpy.ops.posefactory) if not name.startswith("_"))
bpy.ops.preferences.addon_disable(module=module)
leftover = sorted(name for name in dir(bpy.types) if name.startswith("POSEFACTORY_"))
print("RESULT " + json.dumps({"enabled": enabled, "wheels": wheels, "operators": operators,
                               "disabled": not addon_utils.check(module)[1], "leftover": leftover}))
"""


@pytest.fixture(scope="module")
def extension_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build(tmp_path_factory.mktemp("dist"))


def test_zip_has_manifest_package_and_wheels(extension_zip: Path) -> None:
    assert extension_zip.name == "pose_factory-0.1.0.zip"
    names = zipfile.ZipFile(extension_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "core/security.py" in names and "headless/agent.py" in names
    assert any(name.startswith("wheels/boto3-") for name in names)
    assert any(name.startswith("wheels/pyyaml-") and "manylinux" in name for name in names)
    assert not any("__pycache__" in name or name.startswith("tests/") for name in names)
    manifest = zipfile.ZipFile(extension_zip).read("blender_manifest.toml").decode()
    assert 'id = "pose_factory"' in manifest and "network =" in manifest and "files =" in manifest


def test_versions_must_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "blender_manifest.toml"
    manifest.write_text(build.MANIFEST.read_text().replace('version = "0.1.0"', 'version = "9.9.9"'))
    monkeypatch.setattr(build, "MANIFEST", manifest)
    with pytest.raises(build.BuildError, match="versions disagree"):
        build.build(tmp_path)


@pytest.mark.bpy
def test_installs_enables_and_disables_in_isolated_blender(extension_zip: Path, tmp_path: Path) -> None:
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "blender-user")}
    result = subprocess.run(
        [sys.executable, "-c", INSTALL_PROBE, str(extension_zip)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(lines[-1].removeprefix("RESULT "))
    assert report["enabled"], report
    assert report["wheels"] == ["boto3", "botocore", "yaml"]
    assert "submit_job" in report["operators"]
    assert report["disabled"] and report["leftover"] == []
