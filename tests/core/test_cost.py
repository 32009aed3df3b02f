"""Cost formulas against hand-computed seed values, the safety limits, and the `cost` CLI."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from pose_factory_addon.cli import main
from pose_factory_addon.core.config import load_settings
from pose_factory_addon.core.cost import (
    CostLimits,
    check_render_job,
    estimate,
    format_usd,
    limits_from_settings,
    list_providers,
    load_cost_config,
    measured_seconds_per_image,
    validate,
)
from pose_factory_addon.core.dataset import finish_summary, new_summary, write_dataset_files
from pose_factory_addon.core.errors import ConfigError, CostLimitExceeded, UsageError
from pose_factory_addon.core.manifest import CharacterRef, RenderParams
from pose_factory_addon.core.presets import render_preset

SEED_LIMITS = CostLimits(max_cost_per_job=100.0, warning_threshold=50.0, max_batch_size=1000)


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config, no cost override, no limits from the developer's environment."""
    for name in list(os.environ):
        if name.startswith(("POSE_FACTORY_", "RUNPOD_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


def test_local_48_images_is_seed_value() -> None:
    result = estimate("local", 48)
    assert result["total"] == 0.028  # 48 × 5 / 3600 × 0.42
    assert result["per_image"] == round(5 / 3600 * 0.42, 6)
    assert result["count"] == 48
    assert result["provider"] == "local"
    assert result["breakdown"] == {
        "type": "local",
        "gpu_cost_per_hr": 0.42,
        "seconds_per_image": 5,
        "seconds_source": "configured",
    }


def test_stability_sdxl_1024_50_steps() -> None:
    result = estimate("stability", 1, "1024x1024", 50, "sdxl")
    assert result["per_image"] == 0.0165  # 0.002 × 4 × 2 + 50 × 0.00001
    assert result["breakdown"] == {
        "type": "api",
        "base_cost": 0.002,
        "resolution": "1024x1024",
        "resolution_multiplier": 4,
        "model": "sdxl",
        "model_multiplier": 2,
        "steps": 50,
        "steps_cost": 0.0005,
    }
    assert set(result) == {"total", "per_image", "count", "provider", "provider_name", "breakdown"}


def test_stability_sd3_2048_600_images() -> None:
    result = estimate("stability", 600, "2048x2048", 30, "sd_3")
    assert result["per_image"] == 0.0963  # 0.002 × 16 × 3 + 30 × 0.00001
    assert result["total"] == 57.78


def test_seed_defaults_on_dreamstudio() -> None:
    result = estimate("dreamstudio", 10)
    assert result["per_image"] == 0.0023  # 0.002 × 1 × 1 + 30 × 0.00001
    assert result["total"] == 0.023


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        ({"provider": "runpod"}, "local, stability, dreamstudio"),
        ({"provider": "stability", "resolution": "640x480"}, "512x512, 768x768, 1024x1024, 2048x2048"),
        ({"provider": "stability", "model": "sd_2"}, "sd_1_5, sdxl, sd_3"),
    ],
)
def test_unknown_choice_lists_valid_ones(arguments: dict[str, str], names: str) -> None:
    with pytest.raises(UsageError, match=f"valid: {names}"):
        estimate(count=1, **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(("count", "steps"), [(0, 30), (-5, 30), (10_000_001, 30), (1, 0), (1, 501), (True, 30)])
def test_bounds(count: int, steps: int) -> None:
    with pytest.raises(UsageError, match="whole number"):
        estimate("stability", count, steps=steps)


def test_measured_seconds_replace_configured() -> None:
    result = estimate("local", 3600, seconds_per_image=2.0, seconds_source="measured")
    assert result["total"] == 0.84  # 3600 × 2 / 3600 × 0.42
    assert result["breakdown"]["seconds_source"] == "measured"


def test_validate_limits() -> None:
    assert validate(50.0, 1000, SEED_LIMITS) is None
    assert "warning threshold of $50.00" in str(validate(57.78, 600, SEED_LIMITS))
    with pytest.raises(CostLimitExceeded, match="1001 images is above the batch limit of 1000"):
        validate(0.01, 1001, SEED_LIMITS)
    with pytest.raises(CostLimitExceeded, match=r"\$100.01 is above the limit of \$100.00 \(max_cost_per_job\)"):
        validate(100.01, 10, SEED_LIMITS)


def test_max_cost_only_lowers_the_limit(clean_env: Path) -> None:
    settings = load_settings(environ={"XDG_CONFIG_HOME": str(clean_env)})
    assert limits_from_settings(settings) == SEED_LIMITS
    lowered = limits_from_settings(settings, max_cost=20.0)
    assert (lowered.max_cost_per_job, lowered.warning_threshold, lowered.cost_limit_source) == (20.0, 20.0, "--max-cost")
    assert limits_from_settings(settings, max_cost=500.0).max_cost_per_job == 100.0
    with pytest.raises(UsageError):
        limits_from_settings(settings, max_cost=-1.0)


def test_user_file_overrides_shipped_prices(tmp_path: Path) -> None:
    override = tmp_path / "prices.yaml"
    override.write_text("providers:\n  local:\n    gpu_cost_per_hr: 0.84\n  stability:\n    models:\n      sd_4: 5\n")
    config = load_cost_config(override)
    assert estimate("local", 48, config=config)["total"] == 0.056
    assert config["providers"]["local"]["avg_render_time_sec"] == 5
    assert estimate("stability", 1, model="sd_4", config=config)["per_image"] == 0.0103  # 0.002 × 1 × 5 + 30 × 0.00001
    assert [entry["provider"] for entry in list_providers(config)] == ["local", "stability", "dreamstudio", "stability_control"]


@pytest.mark.parametrize(
    "text",
    [
        "providers:\n  local:\n    gpu_cost_per_hr: -1\n",
        "providers:\n  fal:\n    type: api\n    base_cost: 0.1\n",
        "providers:\n  local:\n    type: cloud\n",
        "providers: [1, 2]\n",
        "providers: {local: [unclosed\n",
    ],
)
def test_bad_user_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    override = tmp_path / "prices.yaml"
    override.write_text(text)
    with pytest.raises(ConfigError, match="cost"):
        load_cost_config(override)


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_cost_config(tmp_path / "nope.yaml")


def test_format_usd() -> None:
    assert [format_usd(value) for value in (57.78, 0.028, 0.0165, 0.5, 0.0, 1234.5)] == [
        "$57.78",
        "$0.028",
        "$0.0165",
        "$0.50",
        "$0.00",
        "$1,234.50",
    ]


def _write_dataset(folder: Path, preset: str, per_image_s: float, age_s: float = 0.0, device: str | None = "GPU") -> Path:
    """A dataset.json shaped like the renderer's (core/dataset.py: preset dict, timings totals, the device record)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dataset.json"
    summary: dict[str, object] = {
        "spec": {"preset": preset, "characters": [{"name": "X_Bot"}]},
        "preset": {"name": preset, "engine": "CYCLES", "samples": 16, "denoise": True, "lighting": "studio"},
        "images": [{"path": "X_Bot/front.png", "render_s": per_image_s / 2, "label_s": 0.01}],
        "timings": {
            "import_s": 1.0,
            "framing_s": 0.5,
            "render_s": 3.0,
            "label_s": 0.1,
            "wall_s": 8.0,
            "per_image_s": per_image_s,
        },
        "counts": {"images": 1, "characters": 1, "failures": 0},
    }
    if device is not None:
        summary["device"] = {"requested": "auto", "device": device, "backend": "OPTIX" if device == "GPU" else "NONE"}
    path.write_text(json.dumps(summary))
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_measured_seconds_newest_matching_dataset(tmp_path: Path) -> None:
    _write_dataset(tmp_path / "old", "standard", 10.0, age_s=100)
    newest = _write_dataset(tmp_path / "new", "standard", 2.0, age_s=10)
    _write_dataset(tmp_path / "preview_run", "preview", 0.25, age_s=0)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "dataset.json").write_text("{not json")
    assert measured_seconds_per_image("standard", [tmp_path]) == (2.0, newest.resolve())
    assert measured_seconds_per_image("preview", [tmp_path / "preview_run"]) == (
        0.25,
        (tmp_path / "preview_run" / "dataset.json").resolve(),
    )
    assert measured_seconds_per_image("quality", [tmp_path, tmp_path / "missing"]) is None


def test_reads_what_the_renderer_writes(tmp_path: Path) -> None:
    params = RenderParams(characters=(CharacterRef("X_Bot", "ab" * 32, "fbx"),), preset="quality")
    summary = new_summary(params, render_preset("quality"), {"blender": "4.5"})
    summary["device"] = {"requested": "auto", "device": "GPU", "backend": "CUDA", "gpus": ["NVIDIA A40"]}
    summary["characters"].append({"name": "X_Bot", "import_s": 2.0, "framing_s": 1.0})
    summary["images"].extend({"path": f"X_Bot/{view}.png", "render_s": 2.5, "label_s": 0.5} for view in ("front", "back"))
    (tmp_path / "run").mkdir()
    write_dataset_files(tmp_path / "run", finish_summary(summary, wall_s=9.0), [])
    assert measured_seconds_per_image("quality", [tmp_path]) == (4.5, (tmp_path / "run" / "dataset.json").resolve())
    assert measured_seconds_per_image("standard", [tmp_path]) is None


def test_measured_seconds_from_images_when_totals_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "dataset.json"
    images = [{"render_s": 3.0, "label_s": 1.0}, {"render_s": 5.0, "label_s": 1.0}, {"render_s": "bad"}, "junk"]
    path.write_text(
        json.dumps({"spec": {"preset": "seed"}, "images": images, "timings": {"per_image_s": 0.0}, "device": {"device": "GPU"}})
    )
    assert measured_seconds_per_image("seed", [tmp_path]) == (5.0, path.resolve())


def test_check_render_job_uses_measured_timings(clean_env: Path) -> None:
    settings = load_settings(environ={"XDG_CONFIG_HOME": str(clean_env)})
    dataset = _write_dataset(clean_env / "out", "standard", 3.0)
    decision = check_render_job(1200, "standard", replace(settings, max_batch_size=5000), search_dirs=[clean_env])
    assert decision.seconds_per_image == 3.0
    assert decision.source == f"measured from {dataset.resolve()}"
    assert decision.total == 0.42  # 1200 × 3 / 3600 × 0.42
    assert decision.warning is None


def test_check_render_job_configured_and_limits(clean_env: Path) -> None:
    settings = load_settings(environ={"XDG_CONFIG_HOME": str(clean_env), "POSE_FACTORY_WARNING_THRESHOLD": "0.05"})
    decision = check_render_job(96, "quality", settings)
    assert (decision.total, decision.seconds_per_image, decision.source) == (0.056, 5, "configured")
    assert decision.warning is not None and "$0.05" in decision.warning
    with pytest.raises(CostLimitExceeded, match="batch limit"):
        check_render_job(1001, "quality", settings)
    with pytest.raises(CostLimitExceeded, match=r"above the limit of \$0.01 \(--max-cost\)"):
        check_render_job(96, "quality", settings, max_cost=0.01)


def test_check_render_job_honours_cost_config_setting(clean_env: Path) -> None:
    override = clean_env / "prices.yaml"
    override.write_text("providers:\n  local:\n    avg_render_time_sec: 10\n")
    settings = load_settings(environ={"XDG_CONFIG_HOME": str(clean_env), "POSE_FACTORY_COST_CONFIG": str(override)})
    assert check_render_job(48, "standard", settings).total == 0.056


def test_cli_local_48_json(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--provider", "local", "--count", "48", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"total": 0.028' in out
    assert json.loads(out)["warning"] is None


def test_cli_refuses_1001_images(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--provider", "local", "--count", "1001"]) == 1
    assert "1001 images is above the batch limit of 1000 images" in capsys.readouterr().err


def test_cli_warns_then_refuses_with_max_cost(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = ["cost", "--provider", "stability", "--count", "600", "--resolution", "2048x2048", "--model", "sd_3", "--steps", "30"]
    assert main(job) == 0
    captured = capsys.readouterr()
    assert "$57.78" in captured.out and "$0.0963" in captured.out
    assert "warning: estimated cost $57.78 is above the warning threshold of $50.00" in captured.err
    assert main([*job, "--max-cost", "50"]) == 1
    assert "estimated cost $57.78 is above the limit of $50.00 (--max-cost)" in capsys.readouterr().err


def test_cli_unknown_resolution_is_usage_error(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--provider", "stability", "--count", "2", "--resolution", "999x999"]) == 2
    assert "valid: 512x512" in capsys.readouterr().err
    assert main(["cost", "--provider", "local"]) == 2
    assert "--count is required" in capsys.readouterr().err


def test_cli_providers(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "providers"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["PROVIDER", "NAME", "TYPE", "PRICE", "OPTIONS"]
    assert any(line.startswith("stability") and "2048x2048" in line for line in table)
    assert main(["cost", "providers", "--json"]) == 0
    providers = json.loads(capsys.readouterr().out)
    assert {entry["provider"]: entry["type"] for entry in providers} == {
        "local": "local",
        "stability": "api",
        "dreamstudio": "api",
        "stability_control": "credits",
    }


def test_submit_estimates_from_downloaded_job_timings(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`submit` looks for dataset.json files under data/working/<job_id>/ (where `download` puts them)."""
    monkeypatch.chdir(clean_env)
    dataset = _write_dataset(clean_env / "data" / "working" / "render_20261130_120000_0123abcd", "preview", 0.5)
    character = clean_env / "Hero.glb"
    character.write_bytes(b"glTF")
    store = (clean_env / "store").as_uri()
    arguments = ["submit", str(character), "--angles", "2", "--preset", "preview", "--store", store]
    assert main(arguments) == 0
    assert f"measured from {dataset.resolve()}" in capsys.readouterr().err


def test_only_gpu_renders_count_as_measured(tmp_path: Path) -> None:
    gpu = _write_dataset(tmp_path / "pod", "standard", 0.3, age_s=100)
    _write_dataset(tmp_path / "laptop", "standard", 0.9, age_s=10, device="CPU")
    _write_dataset(tmp_path / "before_devices", "standard", 1.5, age_s=0, device=None)
    assert measured_seconds_per_image("standard", [tmp_path]) == (0.3, gpu.resolve())
    assert measured_seconds_per_image("standard", [tmp_path / "laptop", tmp_path / "before_devices"]) is None


def test_cli_cost_uses_downloaded_gpu_timings(clean_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.chdir(clean_env)
    _write_dataset(clean_env / "data" / "working" / "render_20250101_000000_0123abcd", "quality", 2.0)
    assert main(["cost", "--provider", "local", "--count", "900", "--preset", "quality", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["breakdown"]["seconds_per_image"] == 2.0 and result["total"] == 0.21  # 900 × 2 / 3600 × 0.42
    assert result["breakdown"]["seconds_source"].startswith("measured on a GPU")
    assert main(["cost", "--provider", "local", "--count", "900", "--preset", "standard", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["breakdown"]["seconds_source"] == "configured"
