"""`pose-factory cost` names the provider plainly and shows the limits it checked, with where each came from."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pose_factory_addon.cli import main


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("POSE_FACTORY_", "RUNPOD_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_the_local_provider_is_named_and_the_limits_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--provider", "local", "--count", "48"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "provider local: RunPod GPU pod (A40), priced by GPU time"
    assert lines[1:3] == ["  images     48", "  per image  $0.000583"]
    assert lines[-4:] == [
        "limits checked: within all",
        "  max_cost_per_job   $100.00      (default)",
        "  warning_threshold  $50.00       (default)",
        "  max_batch_size     1000 images  (default)",
    ]


def test_the_limits_say_where_they_came_from(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POSE_FACTORY_MAX_BATCH_SIZE", "500")
    assert main(["cost", "--count", "48", "--max-cost", "20"]) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == [
        "  max_cost_per_job   $20.00      (--max-cost)",
        "  warning_threshold  $20.00      (lowered to the cost limit from --max-cost)",
        "  max_batch_size     500 images  ($POSE_FACTORY_MAX_BATCH_SIZE)",
    ]
    monkeypatch.delenv("POSE_FACTORY_MAX_BATCH_SIZE")
    job = ["cost", "--provider", "stability", "--count", "600", "--resolution", "2048x2048", "--model", "sd_3"]
    assert main(job) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == "provider stability: Stability AI API, priced per generated image"
    assert "limits checked: above warning_threshold, a job this size needs confirmation" in captured.out


def test_json_carries_the_limits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--count", "48", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["limits"] == {
        "max_cost_per_job": {"value": 100.0, "source": "default"},
        "warning_threshold": {"value": 50.0, "source": "default"},
        "max_batch_size": {"value": 1000, "source": "default"},
    }
