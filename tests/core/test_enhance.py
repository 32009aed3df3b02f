"""`pose-factory enhance` against a local server that speaks Stability's wire format (tests/stability_server.py).

The label check runs the fake MediaPipe runner (``qa_fake_runner.py``: ``echo`` finds every person
exactly where the labels say, ``miss`` finds nobody), so these tests need neither the network nor
MediaPipe; tests/system/test_enhance_gate.py runs the gate with real MediaPipe.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from qa_helpers import FAKE_RUNNER, SIZE, make_dataset
from stability_server import FakeStability, Recorded, Reply, error_reply, image_reply, unchanged

from pose_factory_addon.cli import main
from pose_factory_addon.core import qa_detector
from pose_factory_addon.core.config import load_settings
from pose_factory_addon.core.enhance import enhance, plan_enhancement, send_requests
from pose_factory_addon.core.enhance_cost import check_enhance_cost
from pose_factory_addon.core.enhance_journal import JOURNAL_FILE
from pose_factory_addon.core.enhance_limits import RetryPolicy, TokenBucket
from pose_factory_addon.core.enhance_options import enhance_options
from pose_factory_addon.core.errors import EnhanceError, UsageError
from pose_factory_addon.core.stability import ImageRefused, StabilityClient, StabilityError, TransientError

KEY = "sk-test-9f8e7d6c5b4a39281706aabb"
PROMPT = "a photo of a person in a park"
OUT_OF_CREDITS = error_reply(
    402,
    "payment_required",
    ["You lack sufficient credits to make this request. Please purchase more credits and try again."],
)


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it (thread-safe)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("POSE_FACTORY_", "STABILITY_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture
def stability(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStability]:
    with FakeStability(KEY) as fake:
        monkeypatch.setenv("STABILITY_API_KEY", KEY)
        monkeypatch.setenv("STABILITY_API_BASE_URL", fake.url)
        yield fake


@pytest.fixture
def fake_qa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qa_detector, "runner_script", lambda: FAKE_RUNNER)
    monkeypatch.setenv(qa_detector.QA_PYTHON_ENV, sys.executable)
    monkeypatch.setenv("FAKE_QA_MODE", "echo")


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "ds")


def _client() -> StabilityClient:
    return StabilityClient.from_settings(load_settings())


def _files_containing(root: Path, secret: str) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]


def _journal(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / JOURNAL_FILE).read_text().splitlines()]


def _counting(first: int, then: Reply) -> tuple[list[int], object]:
    """An answer that echoes the first ``first`` requests and answers ``then`` afterwards."""
    seen = [0]
    lock = threading.Lock()

    def answer(request: Recorded) -> Reply:
        with lock:
            seen[0] += 1
            number = seen[0]
        return unchanged(request) if number <= first else then

    return seen, answer


def test_cli_sends_bearer_key_and_form_and_writes_the_enhanced_dataset(
    dataset: Path, stability: FakeStability, fake_qa: None, capsys: pytest.CaptureFixture[str]
) -> None:
    stability.answer = lambda request: unchanged(request, scale=2.0)  # Stability answers at its own size
    arguments = ["enhance", str(dataset), "--prompt", PROMPT, "--negative-prompt", "cartoon, drawing"]
    assert main([*arguments, "--variations", "2", "--seed", "40", "--control-strength", "0.55"]) == 0
    captured = capsys.readouterr()
    out = dataset.with_name("ds_enhanced")

    assert len(stability.requests) == 6
    for request in stability.requests:
        assert request.path == "/v2beta/stable-image/control/structure"
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert request.headers["Accept"] == "image/*"
        assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
        fields = dict(request.fields)
        assert int(fields.pop("seed")) in range(40, 46)
        assert fields == {
            "prompt": PROMPT,
            "negative_prompt": "cartoon, drawing",
            "control_strength": "0.55",
            "output_format": "png",
        }
        assert Image.open(io.BytesIO(request.image)).size == (SIZE, SIZE)
    assert sorted(int(request.fields["seed"]) for request in stability.requests) == list(range(40, 46))

    summary = json.loads((out / "dataset.json").read_text())
    assert [image["image"] for image in summary["images"]] == [
        "c/front.png", "c/front_v2.png", "c/right.png", "c/right_v2.png", "c/back.png", "c/back_v2.png",
    ]  # fmt: skip
    assert summary["counts"]["images"] == 6 and summary["rejected"] == [] and summary["counts"]["rejected"] == 0
    assert summary["enhancement"]["endpoint"] == "/v2beta/stable-image/control/structure"
    assert summary["enhancement"]["estimated_cost_usd"] == 0.3
    source = json.loads((dataset / "c" / "right.json").read_text())
    label = json.loads((out / "c" / "right_v2.json").read_text())
    assert label["image"] == "c/right_v2.png"
    assert {key: label[key] for key in source} == {**source, "image": "c/right_v2.png"}, "coordinates are the rendered ones"
    assert label["enhanced"]["seed"] == 43 and label["enhanced"]["variation"] == 2
    assert label["enhanced"]["strength"] == 0.55 and label["enhanced"]["mode"] == "structure"
    assert label["enhanced"]["prompt"] == PROMPT
    assert label["enhanced"]["source_image"] == "c/right.png"
    assert label["enhanced"]["source_sha256"] == hashlib.sha256((dataset / "c" / "right.png").read_bytes()).hexdigest()
    assert label["enhanced"]["size"] == {"source": [96, 96], "padding": [0, 0, 0, 0], "sent": [96, 96], "received": [192, 192]}
    assert Image.open(out / "c" / "right_v2.png").size == (SIZE, SIZE)
    coco = json.loads((out / "coco_keypoints.json").read_text())
    assert [image["file_name"] for image in coco["images"]] == [image["image"] for image in summary["images"]]

    assert "estimate: 6 requests (3 images x 2 variations), $0.30 ($0.05 = 5 credits per image)" in captured.err
    assert "6 kept, 0 rejected by the QA gate" in captured.out
    assert KEY not in captured.out + captured.err
    assert _files_containing(dataset.parent, KEY) == []


def test_requests_run_a_few_at_a_time(dataset: Path, stability: FakeStability, fake_qa: None, tmp_path: Path) -> None:
    stability.delay_s = 0.2
    plan = plan_enhancement(dataset, tmp_path / "out", enhance_options(PROMPT, variations=4))
    sent = send_requests(plan, _client(), workers=4)
    assert sent.finished == 12 and sent.requests == 12
    assert stability.most_in_flight == 4
    assert sent.seconds < 12 * 0.2 / 2, "four workers must beat one by far"


def test_a_429_with_retry_after_is_retried_and_succeeds(
    dataset: Path, stability: FakeStability, fake_qa: None, tmp_path: Path
) -> None:
    limit = "You have exceeded the rate limit of 150 requests within a 10 second period."
    stability.script.append(error_reply(429, "rate_limit_exceeded", [limit], {"Retry-After": "7"}))
    clock = FakeClock()
    plan = plan_enhancement(dataset, tmp_path / "out", enhance_options(PROMPT, seed=5))
    cost = check_enhance_cost(len(plan.pending), "structure", load_settings())
    limiter = TokenBucket.for_window(clock=clock, sleep=clock.sleep)
    result = enhance(plan, _client(), cost, workers=1, limiter=limiter, sleep=clock.sleep)

    assert len(stability.requests) == 4
    assert stability.requests[0].fields["seed"] == stability.requests[1].fields["seed"] == "5", "the same request again"
    assert 7.0 in clock.sleeps and clock.now >= 7.0
    assert result.sent.finished == 3 and result.sent.requests == 4 and len(result.gate.kept) == 3


def test_server_errors_are_retried_with_backoff_then_stop_the_run(
    dataset: Path, stability: FakeStability, fake_qa: None, tmp_path: Path
) -> None:
    stability.answer = lambda request: error_reply(500, "internal_error", ["An unexpected server error occurred."])
    clock = FakeClock()
    plan = plan_enhancement(dataset, tmp_path / "out", enhance_options(PROMPT))
    with pytest.raises(TransientError, match=r"server error \(HTTP 500.*gave up on c/front.png after 3 attempts") as raised:
        send_requests(plan, _client(), workers=1, retry=RetryPolicy(max_attempts=3), sleep=clock.sleep)
    assert "0 of 3 images are finished and kept" in str(raised.value)
    assert clock.sleeps == [2.0, 4.0]
    assert len(stability.requests) == 3


def test_402_stops_the_run_keeps_finished_outputs_and_a_rerun_resumes(
    dataset: Path, stability: FakeStability, fake_qa: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, stability.answer = _counting(2, OUT_OF_CREDITS)
    command = ["enhance", str(dataset), "--prompt", PROMPT, "--variations", "2", "--seed", "100"]
    assert main(command) == 1
    error = capsys.readouterr().err
    assert "pose-factory enhance: Stability says the account is out of credits (HTTP 402: You lack sufficient credits" in error
    assert "2 of 6 images are finished and kept in" in error and "run the same command again to resume" in error
    assert len(error.strip().splitlines()[-1]) < 600 and KEY not in error
    out = dataset.with_name("ds_enhanced")
    finished = [record for record in _journal(out)[1:] if record["outcome"] == "done"]
    assert len(finished) == 2 and all((out / record["image"]).is_file() for record in finished)
    assert not (out / "dataset.json").exists()
    paid_seeds = {record["seed"] for record in finished}

    before = len(stability.requests)
    stability.answer = unchanged
    assert main(command) == 0
    assert "estimate: 4 requests (3 images x 2 variations, 2 already done), $0.20" in capsys.readouterr().err
    again = stability.requests[before:]
    assert len(again) == 4 and not {int(request.fields["seed"]) for request in again} & paid_seeds
    assert json.loads((out / "dataset.json").read_text())["counts"]["images"] == 6


def test_an_interrupted_run_resumes_without_requesting_finished_images(
    dataset: Path, stability: FakeStability, fake_qa: None, tmp_path: Path
) -> None:
    options = enhance_options(PROMPT, variations=3)
    out = tmp_path / "out"

    def interrupt(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    stability.delay_s = 0.1
    with pytest.raises(KeyboardInterrupt):
        send_requests(plan_enhancement(dataset, out, options), _client(), workers=2, progress=interrupt)
    run, *outcomes = _journal(out)
    finished = {record["image"]: record["seed"] for record in outcomes}
    assert 2 <= len(finished) <= 2 + 2, "no new request after the interrupt; the two in flight are awaited"
    assert len(stability.requests) == len(finished), "every request that reached Stability is recorded"
    stability.delay_s = 0.0
    with (out / JOURNAL_FILE).open("ab") as journal:
        journal.write(b'{"image": "c/back_v3.png", "outco')  # a line torn by a crash

    first = len(stability.requests)
    plan = plan_enhancement(dataset, out, options)
    assert plan.finished == set(finished) and plan.base_seed == run["base_seed"]
    result = enhance(plan, _client(), check_enhance_cost(len(plan.pending), "structure", load_settings()))
    again = {int(request.fields["seed"]) for request in stability.requests[first:]}
    assert len(stability.requests) - first == 9 - len(finished)
    assert not again & set(finished.values())
    assert result.sent.reused == len(finished) and len(result.gate.kept) == 9
    lines = (out / JOURNAL_FILE).read_text().splitlines()
    assert len(lines) == 10 and all(json.loads(line) for line in lines), "the torn line was cut, every line is whole"


def test_cost_limits_refuse_before_any_request(
    tmp_path: Path, stability: FakeStability, fake_qa: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    big = make_dataset(tmp_path / "big")
    summary = json.loads((big / "dataset.json").read_text())
    for index in range(1001 - 3):
        for suffix in (".png", ".json"):
            (big / "c" / f"extra{index}{suffix}").write_bytes((big / "c" / f"front{suffix}").read_bytes())
        summary["images"].append({"image": f"c/extra{index}.png", "label": f"c/extra{index}.json"})
    (big / "dataset.json").write_text(json.dumps(summary))
    assert main(["enhance", str(big), "--prompt", PROMPT, "--yes"]) == 1
    assert "1001 images is above the batch limit of 1000 images (max_batch_size)" in capsys.readouterr().err

    small = make_dataset(tmp_path / "small")
    assert main(["enhance", str(small), "--prompt", PROMPT, "--variations", "2", "--max-cost", "0.25", "--yes"]) == 1
    assert "estimated cost $0.30 is above the limit of $0.25 (--max-cost)" in capsys.readouterr().err

    monkeypatch.setenv("POSE_FACTORY_WARNING_THRESHOLD", "0.1")
    assert main(["enhance", str(small), "--prompt", PROMPT]) == 1  # stdin is not a terminal: no one to ask
    assert "above the warning threshold of $0.10; not started (pass --yes to start anyway)" in capsys.readouterr().err
    assert stability.requests == []
    assert not (tmp_path / "big_enhanced").exists() and not (tmp_path / "small_enhanced").exists()

    assert main(["enhance", str(small), "--prompt", PROMPT, "--yes"]) == 0
    assert len(stability.requests) == 3


def test_the_gate_drops_images_where_no_person_is_found(
    dataset: Path, stability: FakeStability, fake_qa: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_QA_MODE", "miss")
    assert main(["enhance", str(dataset), "--prompt", PROMPT]) == 0
    out = dataset.with_name("ds_enhanced")
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["images"] == [] and summary["counts"]["images"] == 0 and summary["counts"]["rejected"] == 3
    assert [(record["image"], record["detected"], record["reason"]) for record in summary["rejected"]] == [
        (f"c/{view}.png", False, "MediaPipe found no person") for view in ("front", "right", "back")
    ]
    assert json.loads((out / "coco_keypoints.json").read_text())["images"] == []
    assert (out / "c" / "front.png").is_file(), "rejected images stay on disk"
    assert "0 kept, 3 rejected by the QA gate" in capsys.readouterr().out


def test_content_moderation_skips_one_image_and_the_run_goes_on(
    dataset: Path, stability: FakeStability, fake_qa: None, capsys: pytest.CaptureFixture[str]
) -> None:
    def answer(request: Recorded) -> Reply:
        if request.fields["seed"] == "11":
            return error_reply(403, "forbidden", ["Your request was flagged by our content moderation system."])
        return unchanged(request)

    stability.answer = answer
    command = ["enhance", str(dataset), "--prompt", PROMPT, "--seed", "10"]
    assert main(command) == 0
    out = dataset.with_name("ds_enhanced")
    summary = json.loads((out / "dataset.json").read_text())
    assert [image["image"] for image in summary["images"]] == ["c/front.png", "c/back.png"]
    [failure] = summary["failures"]
    assert failure["image"] == "c/right.png" and failure["stage"] == "enhance"
    assert failure["error"].startswith("Stability's content moderation refused the image (HTTP 403: Your request was flagged")
    assert "1 refused by Stability" in capsys.readouterr().out
    requests = len(stability.requests)
    assert main(command) == 0 and len(stability.requests) == requests, "a refused image is an outcome, not asked again"


@pytest.mark.parametrize(
    ("reply", "kind", "message"),
    [
        (error_reply(400, "bad_request", ["control_strength: must be between 0 and 1"]), StabilityError,
         "Stability rejected the request as invalid (HTTP 400: control_strength: must be between 0 and 1)"),
        (OUT_OF_CREDITS, StabilityError, "Stability says the account is out of credits (HTTP 402: You lack sufficient credits"),
        (error_reply(403, "content_moderation", ["flagged"]), ImageRefused,
         "Stability's content moderation refused the image (HTTP 403: flagged)"),
        (error_reply(413, "payload_too_large", ["body exceeds 10MiB"]), ImageRefused,
         "the request is larger than Stability accepts (HTTP 413: body exceeds 10MiB)"),
        (error_reply(422, "invalid_language", ["English is the only supported language"]), StabilityError,
         "Stability refused the request (HTTP 422: English is the only supported language)"),
        (error_reply(429, "rate_limit_exceeded", ["too many"], {"Retry-After": "3"}), TransientError,
         "Stability's rate limit was exceeded (HTTP 429: too many)"),
        (error_reply(503, "service_unavailable", ["down for maintenance"]), TransientError,
         "Stability had a server error (HTTP 503: down for maintenance)"),
        (Reply(502, b"<html><body>Bad gateway</body></html>", "text/html"), TransientError,
         "Stability had a server error (HTTP 502: <html><body>Bad gateway</body></html>)"),
        (image_reply(b"\x89PNG\r\n\x1a\n...", finish_reason="CONTENT_FILTERED"), ImageRefused,
         "Stability's content filter blurred the output"),
        (Reply(200, b'{"image": "iVBOR..."}', "application/json"), StabilityError,
         "Stability answered HTTP 200 with application/json instead of a PNG"),
    ],
)  # fmt: skip
def test_error_answers_become_one_line_messages(
    stability: FakeStability, reply: Reply, kind: type[Exception], message: str
) -> None:
    stability.script.append(reply)
    with pytest.raises(StabilityError) as raised:
        _client().control("structure", b"png", PROMPT)
    assert type(raised.value) is kind
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    if kind is TransientError and "429" in message:
        assert raised.value.retry_after == 3.0  # type: ignore[attr-defined]


def test_the_key_is_redacted_from_every_error(stability: FakeStability) -> None:
    stability.script.append(error_reply(400, "bad_request", [f"authorization: {KEY} is malformed"]))
    with pytest.raises(StabilityError) as raised:
        _client().control("structure", b"png", PROMPT)
    assert KEY not in str(raised.value) and "authorization: *** is malformed" in str(raised.value)
    typed = StabilityClient("sk-typed-into-blender-0042", stability.url)  # a key that is not in the environment
    stability.script.append(error_reply(400, "bad_request", ["sk-typed-into-blender-0042 is not a key"]))
    with pytest.raises(StabilityError, match=r"\*\*\* is not a key"):
        typed.control("structure", b"png", PROMPT)


def test_wrong_key_missing_key_and_unreachable_service(stability: FakeStability, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StabilityError, match=r"^Stability rejected the API key \(HTTP 401\); check STABILITY_API_KEY$"):
        StabilityClient("sk-wrong-key-000", stability.url).control("sketch", b"png", PROMPT)
    assert stability.requests[-1].path == "/v2beta/stable-image/control/sketch"
    with pytest.raises(StabilityError, match=r"no structure endpoint at .*/nothing/v2beta/stable-image/control/structure"):
        StabilityClient(KEY, f"{stability.url}/nothing").control("structure", b"png", PROMPT)
    monkeypatch.delenv("STABILITY_API_KEY")
    with pytest.raises(EnhanceError, match="STABILITY_API_KEY is not set"):
        _client()
    with pytest.raises(TransientError, match=r"^cannot reach Stability at http://127.0.0.1:9: ConnectionError$"):
        StabilityClient(KEY, "http://127.0.0.1:9").control("structure", b"png", PROMPT)


def test_cli_without_a_key_or_with_bad_options_sends_nothing(
    dataset: Path, stability: FakeStability, fake_qa: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["enhance", str(dataset), "--prompt", PROMPT, "--control-strength", "1.5"]) == 2
    assert "control_strength must be at least 0 and at most 1, not 1.5" in capsys.readouterr().err
    assert main(["enhance", str(dataset), "--prompt", "  "]) == 2
    assert main(["enhance", str(dataset), "--prompt", PROMPT, "--out", str(dataset)]) == 2
    assert "is the dataset itself" in capsys.readouterr().err
    monkeypatch.delenv("STABILITY_API_KEY")
    assert main(["enhance", str(dataset), "--prompt", PROMPT]) == 1
    assert "STABILITY_API_KEY is not set" in capsys.readouterr().err
    assert stability.requests == []


def test_a_folder_of_another_run_is_not_mixed(dataset: Path, stability: FakeStability, fake_qa: None, tmp_path: Path) -> None:
    out = tmp_path / "out"
    send_requests(plan_enhancement(dataset, out, enhance_options(PROMPT, seed=9)), _client())
    with pytest.raises(EnhanceError, match=r"holds an enhancement run with another prompt \('a photo of a person in a park'\)"):
        plan_enhancement(dataset, out, enhance_options("a painting"))
    with pytest.raises(EnhanceError, match="holds an enhancement run with seed 9"):
        plan_enhancement(dataset, out, enhance_options(PROMPT, seed=10))
    assert plan_enhancement(dataset, out, enhance_options(PROMPT, max_error=0.1)).pending == (), "the gate may change"
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="is not empty and holds no enhancement run"):
        plan_enhancement(dataset, other, enhance_options(PROMPT))
