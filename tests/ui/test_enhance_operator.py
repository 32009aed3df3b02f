"""'Enhance with Stability AI...': the dialog's estimate, the key from the preferences, blocking and background runs.

Stability is the local server of tests/stability_server.py and MediaPipe the fake runner of
tests/core/qa_fake_runner.py (every person found where the labels say), so only the plumbing is
tested here; tests/core/test_enhance.py and tests/system/test_enhance_gate.py test the run and the gate.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from stability_server import FakeStability, error_reply
from ui_helpers import REPO, RecordingLayout, connect, draw

from pose_factory_addon.core import qa_detector
from pose_factory_addon.ui import bridge
from pose_factory_addon.ui.operators import POSEFACTORY_OT_enhance_dataset
from pose_factory_addon.ui.panels import POSEFACTORY_PT_render_here

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy

TYPED_KEY = "sk-typed-into-preferences-7788"
PROMPT = "a photo of a person in a park"


@pytest.fixture
def stability(isolated: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStability]:
    monkeypatch.delenv("STABILITY_API_KEY", raising=False)
    monkeypatch.setattr(qa_detector, "runner_script", lambda: REPO / "tests" / "core" / "qa_fake_runner.py")
    monkeypatch.setenv(qa_detector.QA_PYTHON_ENV, sys.executable)
    monkeypatch.setenv("FAKE_QA_MODE", "echo")
    with FakeStability(TYPED_KEY) as fake:
        monkeypatch.setenv("STABILITY_API_BASE_URL", fake.url)
        yield fake


@pytest.fixture
def results(addon: Any, rendered_dataset: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    shutil.copytree(rendered_dataset, folder)
    addon.window_manager.pose_factory.last_output_folder = str(folder)
    return folder


def _enhanced(results: Path) -> dict[str, Any]:
    return json.loads((results.with_name("results_enhanced") / "dataset.json").read_text())


def test_the_key_comes_from_the_preferences_and_never_leaves_in_a_file(
    addon: Any, preferences: Any, results: Path, stability: FakeStability
) -> None:
    with pytest.raises(RuntimeError, match="Stability AI is not configured: set STABILITY_API_KEY or type a key"):
        bpy.ops.posefactory.enhance_dataset(prompt=PROMPT)
    assert stability.requests == []

    preferences.stability_api_key = TYPED_KEY
    assert bpy.ops.posefactory.enhance_dataset(prompt=PROMPT, variations=2, control_strength=0.6) == {"FINISHED"}
    assert len(stability.requests) == 4
    assert {request.headers["Authorization"] for request in stability.requests} == {f"Bearer {TYPED_KEY}"}
    assert {request.fields["control_strength"] for request in stability.requests} == {"0.6"}
    summary = _enhanced(results)
    assert summary["counts"]["images"] == 4 and summary["enhancement"]["control_strength"] == 0.6
    task = addon.window_manager.pose_factory.task("enhance")
    assert task.text == f"Enhanced into {results.with_name('results_enhanced')}: 4 kept, 0 rejected by the QA gate"
    written = [path for path in results.parent.rglob("*") if path.is_file() and TYPED_KEY.encode() in path.read_bytes()]
    assert written == []
    assert "Enhanced into" in draw(POSEFACTORY_PT_render_here, addon).joined()
    assert "posefactory.enhance_dataset" in draw(POSEFACTORY_PT_render_here, addon).operators()


def test_a_refusal_from_stability_is_one_redacted_line(
    addon: Any, preferences: Any, results: Path, stability: FakeStability
) -> None:
    preferences.stability_api_key = TYPED_KEY
    stability.answer = lambda request: error_reply(402, "payment_required", [f"key {TYPED_KEY} has no credits left"])
    with pytest.raises(RuntimeError) as raised:
        bpy.ops.posefactory.enhance_dataset(prompt=PROMPT)
    message = str(raised.value)
    assert "Stability says the account is out of credits (HTTP 402: key *** has no credits left)" in message
    assert TYPED_KEY not in message and TYPED_KEY not in addon.window_manager.pose_factory.message


def test_in_the_background_progress_and_the_result_come_through_the_drain(
    addon: Any, preferences: Any, results: Path, stability: FakeStability
) -> None:
    preferences.stability_api_key = TYPED_KEY
    assert bpy.ops.posefactory.enhance_dataset(prompt=PROMPT, background=True) == {"FINISHED"}
    assert bridge.wait(60)
    progress = [m.text for m in list(bridge._messages.queue) if isinstance(m, bridge.TaskProgress)]
    assert "Enhancing with Stability AI: 2/2 images" in progress and "QA gate: 2/2 images" in progress
    [finished] = bridge.drain(addon.window_manager)
    assert finished.ok and finished.text.endswith("2 kept, 0 rejected by the QA gate")


def test_the_limits_apply_before_any_request(
    addon: Any, preferences: Any, results: Path, stability: FakeStability, monkeypatch: pytest.MonkeyPatch
) -> None:
    preferences.stability_api_key = TYPED_KEY
    monkeypatch.setenv("POSE_FACTORY_MAX_BATCH_SIZE", "3")
    with pytest.raises(RuntimeError, match="Not started: 4 images is above the batch limit of 3 images"):
        bpy.ops.posefactory.enhance_dataset(prompt=PROMPT, variations=2)
    monkeypatch.delenv("POSE_FACTORY_MAX_BATCH_SIZE")
    monkeypatch.setenv("POSE_FACTORY_WARNING_THRESHOLD", "0.01")
    with pytest.raises(RuntimeError, match=r"Not started: estimated cost \$0.10 is above the warning threshold of \$0.01"):
        bpy.ops.posefactory.enhance_dataset(prompt=PROMPT)
    assert stability.requests == []
    assert bpy.ops.posefactory.enhance_dataset(prompt=PROMPT, confirmed=True) == {"FINISHED"}
    assert len(stability.requests) == 2


def test_the_dialog_shows_the_cost_before_anything_runs(
    addon: Any, preferences: Any, results: Path, stability: FakeStability, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = RecordingLayout()
    dialog = SimpleNamespace(
        layout=layout,
        prompt=PROMPT,
        negative_prompt="",
        mode="sketch",
        control_strength=0.7,
        variations=3,
        seed=0,
        max_error=0.04,
        estimate_lines="",
    )
    connect(addon)
    POSEFACTORY_OT_enhance_dataset.estimate_again(dialog, addon)  # when the dialog opens (invoke)
    POSEFACTORY_OT_enhance_dataset.draw(dialog, addon)
    text = layout.joined()
    assert "2 images: $0.30 total, $0.05 per image (6 requests at 5 credits)" in text
    assert "Stability AI is not configured" in text, "the key is missing until it is typed"
    monkeypatch.setenv("POSE_FACTORY_WARNING_THRESHOLD", "0.2")
    preferences.stability_api_key = TYPED_KEY  # its update callback resolves the connection again
    POSEFACTORY_OT_enhance_dataset.estimate_again(dialog, addon)
    layout.calls.clear()
    POSEFACTORY_OT_enhance_dataset.draw(dialog, addon)
    text = layout.joined()
    assert "estimated cost $0.30 is above the warning threshold of $0.20: pressing Enhance confirms it" in text
    assert "Stability AI is not configured" not in text and stability.requests == []


def test_enhancing_needs_a_results_folder(addon: Any, tmp_path: Path) -> None:
    assert not bpy.ops.posefactory.enhance_dataset.poll()
    addon.window_manager.pose_factory.last_output_folder = str(tmp_path)
    with pytest.raises(RuntimeError, match=r"has no dataset\.json: it is not a finished dataset"):
        bpy.ops.posefactory.enhance_dataset(prompt=PROMPT)  # poll reads no disk; the operator checks the folder


def test_the_cost_panel_prices_control_calls_per_image(addon: Any, isolated: Any) -> None:
    from pose_factory_addon.core.config import load_settings
    from pose_factory_addon.ui.work import cost_view

    view = cost_view(40, "standard", "stability_control", (512, 512), load_settings())
    assert (view.total, view.per_image, view.refusal) == (2.0, 0.05, "")
    assert view.source == "Stability AI Stable Image Control: one structure call per image"
