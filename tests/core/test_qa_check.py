"""The label check's parent side without MediaPipe: finding the QA interpreter, the runner protocol,
and the whole ``check_dataset`` / ``pose-factory qa`` flow with a fake runner (``qa_fake_runner.py``)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from qa_helpers import FAKE_RUNNER, VIEWS, make_dataset

from pose_factory_addon.cli import main as cli_main
from pose_factory_addon.core import qa_detector, side_process
from pose_factory_addon.core.errors import QAError, UsageError
from pose_factory_addon.core.qa_check import QA_HTML, QA_JSON, check_dataset


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qa_detector, "runner_script", lambda: FAKE_RUNNER)
    monkeypatch.setenv(qa_detector.QA_PYTHON_ENV, sys.executable)
    monkeypatch.setenv("FAKE_QA_MODE", "echo")


# --- finding the interpreter ---------------------------------------------------------------------


def test_the_environment_variable_wins(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text("")
    assert qa_detector.find_qa_python({qa_detector.QA_PYTHON_ENV: str(python)}, tmp_path / "pkg") == str(python)
    with pytest.raises(QAError, match=r"\$POSE_FACTORY_QA_PYTHON is /nowhere/python, which does not exist; run `make qa-setup`"):
        qa_detector.find_qa_python({qa_detector.QA_PYTHON_ENV: "/nowhere/python"})


def test_the_checkout_venv_comes_next(tmp_path: Path) -> None:
    python = tmp_path / ".venv-qa" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert qa_detector.find_qa_python({}, tmp_path / "pose_factory_addon") == str(python)


def test_this_interpreter_only_if_it_has_mediapipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(side_process.importlib.util, "find_spec", lambda name: object() if name == "mediapipe" else None)
    assert qa_detector.find_qa_python({}, tmp_path / "pose_factory_addon") == sys.executable
    monkeypatch.setattr(side_process.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(QAError, match=r"^MediaPipe is not installed for label checks: run `make qa-setup`"):
        qa_detector.find_qa_python({}, tmp_path / "pose_factory_addon")


def test_the_runner_sits_at_the_package_root() -> None:
    script = qa_detector.runner_script()
    assert script.name == "qa_mediapipe.py" and script.is_file()
    assert (script.parent / "__init__.py").is_file()


def test_the_runner_imports_nothing_of_ours() -> None:
    import ast

    tree = ast.parse(qa_detector.runner_script().read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert all(not isinstance(node, ast.ImportFrom) or node.level == 0 for node in ast.walk(tree))
    assert modules <= {"__future__", "json", "os", "sys", "numpy", "PIL", "mediapipe"}, modules


# --- the protocol ----------------------------------------------------------------------------------


def test_run_detector_reads_every_image_in_order(tmp_path: Path, fake_runner: None) -> None:
    make_dataset(tmp_path / "d")
    images = [tmp_path / "d" / "c" / f"{view}.png" for view, _ in VIEWS]
    seen: list[tuple[int, int]] = []
    run = qa_detector.run_detector(images, progress=lambda done, total: seen.append((done, total)))
    assert run.mediapipe_version == "fake" and seen == [(1, 3), (2, 3), (3, 3)]
    assert [d.detected for d in run.detections] == [True] * 3
    first = run.detections[0].landmarks
    assert first is not None and first.shape == (33, 5) and first[0, 0] == 48.0 + 0


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("crash", r"stopped after 1 of 3 images \(exit status 1\): RuntimeError: the fake detector crashed"),
        ("garbage", r"printed something that is not JSON: 'INFO: this is not JSON'"),
    ],
)
def test_a_broken_runner_is_one_line(tmp_path: Path, fake_runner: None, monkeypatch: pytest.MonkeyPatch, mode, message) -> None:
    make_dataset(tmp_path / "d")
    monkeypatch.setenv("FAKE_QA_MODE", mode)
    with pytest.raises(QAError, match=message) as caught:
        qa_detector.run_detector([tmp_path / "d" / "c" / f"{view}.png" for view, _ in VIEWS])
    assert "\n" not in str(caught.value)


def test_incomplete_answers_are_protocol_errors(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    with pytest.raises(QAError, match=r"incomplete answer for .*a.png \(KeyError\('width'\)\)"):
        qa_detector.detection_from_record({"kind": "image", "index": 0, "detected": True}, image)
    with pytest.raises(QAError, match=r"landmarks of shape \(2, 5\)"):
        qa_detector.detection_from_record({"width": 9, "height": 9, "detected": True, "landmarks": [[0] * 5] * 2}, image)
    with pytest.raises(QAError, match="not JSON"):
        qa_detector.parse_line("Traceback (most recent call last):")
    with pytest.raises(QAError, match="unexpected line"):
        qa_detector.parse_line("[1, 2]")


def test_an_unreadable_image_stops_the_run(tmp_path: Path, fake_runner: None) -> None:
    make_dataset(tmp_path / "d")
    with pytest.raises(QAError, match=r"cannot read image .*missing.png: FileNotFoundError"):
        qa_detector.run_detector([tmp_path / "d" / "c" / "front.png", tmp_path / "missing.png"])


def test_an_interpreter_without_mediapipe_names_the_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dataset(tmp_path / "d")
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "mediapipe.py").write_text("raise ImportError('mediapipe is blocked in this test')\n")
    monkeypatch.setenv("PYTHONPATH", str(blocker))  # the real runner, in an interpreter whose mediapipe fails to import
    with pytest.raises(QAError, match=r"cannot import mediapipe \(mediapipe is blocked in this test\): run `make qa-setup`"):
        qa_detector.run_detector([tmp_path / "d" / "c" / "front.png"], python=sys.executable)


def test_an_interpreter_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="cannot start the MediaPipe interpreter /nowhere/python"):
        qa_detector.run_detector([tmp_path / "a.png"], python="/nowhere/python")


def test_a_progress_callback_that_raises_stops_the_runner(tmp_path: Path, fake_runner: None, monkeypatch) -> None:
    make_dataset(tmp_path / "d")
    monkeypatch.setenv("FAKE_QA_MODE", "slow")
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        process = real_popen(*args, **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr(side_process.subprocess, "Popen", recording_popen)

    def cancel(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        qa_detector.run_detector([tmp_path / "d" / "c" / f"{view}.png" for view, _ in VIEWS], progress=cancel)
    assert started[0].poll() is not None, "the runner must not outlive a cancelled check"


# --- the whole check -----------------------------------------------------------------------------------


def test_check_dataset_writes_reports_and_qa_blocks(tmp_path: Path, fake_runner: None) -> None:
    dataset = make_dataset(tmp_path / "d")
    before = json.loads((dataset / "dataset.json").read_text())
    (dataset / "dataset.json").chmod(0o640)
    result = check_dataset(dataset)
    assert result.summary["detection_rate"] == 1.0 and result.summary["body_error"]["median"] == 0.0
    assert result.summary["label_set"] == "mediapipe33" and result.summary["flags"] == []
    assert result.summary["height_source"] == {"height_m": 3}
    assert result.json_path == dataset / QA_JSON and result.html_path == dataset / QA_HTML

    report = json.loads(result.json_path.read_text())
    assert report["summary"] == result.summary and len(report["images"]) == 3
    assert report["images"][0]["mediapipe"][0][:2] == [48.0, 8.0]
    assert result.html_path.read_text().count("data:image/jpeg;base64,") == 3

    after = json.loads((dataset / "dataset.json").read_text())
    assert [image.pop("qa") for image in after["images"]] == [
        {"detected": True, "body_error": 0.0, "face_error": 0.0, "swap_suspect": False}
    ] * 3
    assert after == before, "every other field of dataset.json stays as it was"
    assert stat.S_IMODE((dataset / "dataset.json").stat().st_mode) == 0o640
    assert stat.S_IMODE(result.html_path.stat().st_mode) == 0o644
    assert sorted(path.name for path in dataset.iterdir()) == ["c", "dataset.json", QA_HTML, QA_JSON], "no temp files left"


def test_check_dataset_with_coco17_only_and_no_height(tmp_path: Path, fake_runner: None) -> None:
    dataset = make_dataset(tmp_path / "d", label_sets=("coco17",), height_m=None)
    result = check_dataset(dataset, tmp_path / "reports")
    assert result.summary["label_set"] == "coco17" and len(result.summary["landmark_median_error"]) == 17
    assert result.summary["body_error"]["median"] == 0.0 and result.summary["face_error"]["median"] == 0.0
    assert result.summary["height_source"] == {"bbox": 3}
    assert (tmp_path / "reports" / QA_HTML).is_file() and not (dataset / QA_HTML).exists()
    assert "qa" in json.loads((dataset / "dataset.json").read_text())["images"][0]


def test_bad_datasets_are_usage_errors(tmp_path: Path, fake_runner: None) -> None:
    with pytest.raises(UsageError, match=r"no dataset\.json"):
        check_dataset(tmp_path)
    dataset = make_dataset(tmp_path / "d")
    (dataset / "c" / "back.png").unlink()
    with pytest.raises(UsageError, match=r"c/back.png: the image listed in dataset.json is missing"):
        check_dataset(dataset)
    (dataset / "dataset.json").write_text(json.dumps({"images": []}))
    with pytest.raises(UsageError, match="the dataset has no images"):
        check_dataset(dataset)
    (dataset / "dataset.json").write_text("{not json")
    with pytest.raises(UsageError, match=r"cannot read dataset\.json"):
        check_dataset(dataset)


def test_the_cli_prints_a_summary_and_gates_on_the_median(tmp_path: Path, fake_runner: None, capsys) -> None:
    dataset = make_dataset(tmp_path / "d")
    assert cli_main(["qa", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "MediaPipe detected a person in 3/3 images (100%)" in out
    assert "median error (body heights): body 0.000, face 0.000" in out and "left/right check: 0 swap suspects" in out
    assert f"report: {dataset / QA_HTML}" in out
    assert cli_main(["qa", str(dataset), "--fail-above", "0.01"]) == 0


def test_the_cli_fails_above_the_median_and_when_nothing_is_detected(
    tmp_path: Path, fake_runner: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = make_dataset(tmp_path / "d")
    monkeypatch.setenv("FAKE_QA_MODE", "miss")
    assert cli_main(["qa", str(dataset), "--fail-above", "0.04"]) == 1
    captured = capsys.readouterr()
    assert "FLAG: detection rate 0% < 90%" in captured.out
    assert "median body error n/a (nothing detected) is above --fail-above 0.04" in captured.err


def test_cli_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(qa_detector.QA_PYTHON_ENV, "/nowhere/python")
    command = [sys.executable, "-m", "pose_factory_addon.cli", "qa"]
    missing = subprocess.run([*command, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0
    assert "no dataset.json" in missing.stderr
    dataset = make_dataset(tmp_path / "d")
    no_python = subprocess.run([*command, str(dataset)], capture_output=True, text=True, timeout=60)
    assert no_python.returncode == 1 and "Traceback" not in no_python.stderr
    assert no_python.stderr.strip().splitlines()[-1].startswith("pose-factory qa: $POSE_FACTORY_QA_PYTHON is /nowhere/python")
    bad = subprocess.run([*command, str(dataset), "--fail-above", "-1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--fail-above must be a positive number" in bad.stderr
