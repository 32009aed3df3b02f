"""The enhancement step of a queued render job (``params.enhance``), without Blender: what it checks before
rendering, how its progress continues the render's, and which failures end the job for good."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from qa_helpers import FAKE_RUNNER, make_dataset
from stability_server import FakeStability, error_reply

from pose_factory_addon.agent import ENHANCED_DIR, prepare_enhancement
from pose_factory_addon.cli import main
from pose_factory_addon.core import qa_detector
from pose_factory_addon.core.enhance_options import enhance_options
from pose_factory_addon.core.queue import PermanentJobError

KEY = "sk-test-agent-31415926535"
OPTIONS = enhance_options("a photo of a person", variations=2)


@pytest.fixture
def worker_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStability]:
    """A worker's environment: its own key, the local Stability server, the fake MediaPipe runner."""
    for name in list(os.environ):
        if name.startswith(("POSE_FACTORY_", "STABILITY_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(qa_detector, "runner_script", lambda: FAKE_RUNNER)
    monkeypatch.setenv(qa_detector.QA_PYTHON_ENV, sys.executable)
    monkeypatch.setenv("FAKE_QA_MODE", "echo")
    with FakeStability(KEY) as fake:
        monkeypatch.setenv("STABILITY_API_KEY", KEY)
        monkeypatch.setenv("STABILITY_API_BASE_URL", fake.url)
        yield fake


def test_a_worker_without_a_key_refuses_before_rendering(worker_env: FakeStability, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STABILITY_API_KEY")
    with pytest.raises(PermanentJobError, match=r"^this job asks for enhancement, but STABILITY_API_KEY is not set"):
        prepare_enhancement(OPTIONS)
    monkeypatch.setenv("STABILITY_API_KEY", KEY)
    monkeypatch.setenv(qa_detector.QA_PYTHON_ENV, "/nowhere/python")
    with pytest.raises(PermanentJobError, match="but \\$POSE_FACTORY_QA_PYTHON is /nowhere/python, which does not exist"):
        prepare_enhancement(OPTIONS)
    assert worker_env.requests == []


def test_the_step_enhances_into_the_results_and_continues_the_progress(worker_env: FakeStability, tmp_path: Path) -> None:
    results = make_dataset(tmp_path / "output")
    reports: list[tuple[int, int]] = []
    prepare_enhancement(OPTIONS)(results, lambda done, total: reports.append((done, total)), 3)
    enhanced = json.loads((results / ENHANCED_DIR / "dataset.json").read_text())
    assert enhanced["counts"]["images"] == 6 and enhanced["enhancement"]["source"] == str(results)
    assert reports[0] == (3, 9) and reports[-1] == (9, 9), "the render's 3 images, then 6 requests"
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert len(worker_env.requests) == 6


def test_a_refusal_fails_the_job_for_good(worker_env: FakeStability, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = make_dataset(tmp_path / "output")
    worker_env.answer = lambda request: error_reply(402, "payment_required", ["no credits left"])
    with pytest.raises(PermanentJobError, match=r"^enhancement: Stability says the account is out of credits \(HTTP 402"):
        prepare_enhancement(OPTIONS)(results, lambda done, total: None, 3)
    monkeypatch.setenv("POSE_FACTORY_MAX_BATCH_SIZE", "5")
    with pytest.raises(PermanentJobError, match=r"^enhancement: 6 images is above the batch limit of 5 images"):
        prepare_enhancement(OPTIONS)(make_dataset(tmp_path / "other"), lambda done, total: None, 3)


def test_submit_queues_the_options_without_the_key_and_prices_render_and_enhancement_together(
    worker_env: FakeStability, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    character = tmp_path / "Hero.glb"
    character.write_bytes(b"glTF")
    base = ["submit", str(character), "--angles", "4", "--preset", "preview", "--store", (tmp_path / "store").as_uri()]
    enhance = ["--enhance-prompt", "a photo of a person", "--enhance-variations", "2", "--enhance-seed", "9"]
    assert main([*base, *enhance]) == 0
    assert "; then 8 Stability requests, $0.40; together $0.402333" in capsys.readouterr().err
    [manifest] = [json.loads(path.read_text()) for path in (tmp_path / "store").rglob("render_*.json") if "pending" in str(path)]
    assert manifest["params"]["enhance"] == {
        "prompt": "a photo of a person", "negative_prompt": "", "mode": "structure", "control_strength": 0.7,
        "variations": 2, "seed": 9, "max_error": 0.04,
    }  # fmt: skip
    assert not [path for path in (tmp_path / "store").rglob("*") if path.is_file() and KEY.encode() in path.read_bytes()]

    assert main([*base, *enhance, "--max-cost", "0.3"]) == 1  # the render alone is far below it, the sum is not
    assert "estimated cost $0.402333 is above the limit of $0.30 (--max-cost)" in capsys.readouterr().err
    assert main([*base, "--enhance-prompt", "a photo", "--enhance-control-strength", "3"]) == 2
    assert "control_strength must be at least 0 and at most 1, not 3" in capsys.readouterr().err
    assert worker_env.requests == []
