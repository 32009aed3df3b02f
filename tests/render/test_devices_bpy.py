"""The render device with the real Cycles preferences: a GPU where Blender sees one, else the CPU, recorded in dataset.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from pose_factory_addon.render.devices import cycles_preferences, select_device  # noqa: E402

pytestmark = pytest.mark.bpy

REPO = Path(__file__).resolve().parents[2]
CHARACTER = REPO / "samples" / "characters" / "Mannequin_Slim_Wave.glb"


def _cli(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "POSE_FACTORY_DEVICE"}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    return subprocess.run(
        [sys.executable, "-m", "pose_factory_addon.cli", *arguments],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600, check=False,
    )  # fmt: skip


def test_auto_selects_what_this_machine_has() -> None:
    choice = select_device("auto")
    preferences = cycles_preferences()
    assert any(found.kind == "CPU" for found in choice.found)
    if choice.device == "GPU":  # runs where Blender sees a GPU
        assert preferences.compute_device_type == choice.backend and choice.gpus
        used = [device for device in preferences.get_devices_for_type(choice.backend) if device.use]
        assert used and all(device.type == choice.backend for device in used)
    else:
        assert choice.backend == "NONE" and preferences.compute_device_type == "NONE"


def test_cycles_render_records_the_device_and_gpu_without_one_is_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rendered = _cli(tmp_path, "render", str(CHARACTER), "--out", str(out), "--angles", "1", "--preset", "standard",
                    "--resolution", "64x64", "--device", "auto")  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    device = json.loads((out / "dataset.json").read_text())["device"]
    has_gpu = device["device"] == "GPU"
    assert device["requested"] == "auto" and device["backend"] == ("NONE" if not has_gpu else device["backend"])
    assert f"render device: {device['device']}" in rendered.stderr
    if has_gpu:
        pytest.skip(f"this machine has a GPU ({device['gpus']}); the no-GPU error cannot be shown here")
    refused = _cli(tmp_path, "render", str(CHARACTER), "--out", str(tmp_path / "gpu"), "--angles", "1",
                   "--preset", "standard", "--resolution", "64x64", "--device", "gpu")  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "no GPU" in refused.stderr and "found CPU" in refused.stderr
    assert not (tmp_path / "gpu" / "dataset.json").exists()
