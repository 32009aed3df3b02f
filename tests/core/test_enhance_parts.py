"""The pieces of an enhancement run without a server: rate limiter, retry waits, sizes, options, manifest field, prices."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from pose_factory_addon.core import defaults
from pose_factory_addon.core.config import load_settings
from pose_factory_addon.core.cost import estimate, load_cost_config
from pose_factory_addon.core.enhance import output_path
from pose_factory_addon.core.enhance_cost import check_enhance_cost
from pose_factory_addon.core.enhance_journal import JOURNAL_FILE, Journal, read_journal
from pose_factory_addon.core.enhance_limits import RetryPolicy, TokenBucket, parse_retry_after
from pose_factory_addon.core.enhance_options import EnhanceOptions, enhance_options
from pose_factory_addon.core.enhance_sizes import MAX_PIXELS, SizeMapping, endpoint_size, prepare_image, restore_image
from pose_factory_addon.core.errors import ConfigError, CostLimitExceeded, ManifestError, UsageError
from pose_factory_addon.core.manifest import CharacterRef, RenderParams, manifest_from_dict, new_render_manifest

LIMIT, WINDOW = 150, 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def _most_in_any_window(times: list[float], window: float) -> int:
    """The most timestamps in any closed window ``[t, t + window]`` (it suffices to start windows at timestamps)."""
    times = sorted(times)
    most, end = 0, 0
    for start, moment in enumerate(times):
        while end < len(times) and times[end] <= moment + window:
            end += 1
        most = max(most, end - start)
    return most


def test_the_limiter_never_lets_150_plus_one_into_any_10_s_window() -> None:
    """Not even into any 11 s: the extra second absorbs network delays that differ from request to request."""
    clock = FakeClock()
    bucket = TokenBucket.for_window(LIMIT, WINDOW, clock=clock, sleep=clock.sleep)
    times = []
    for number in range(3000):
        assert bucket.acquire()
        times.append(clock())
        if number % 400 == 399:
            clock.sleep(37.0)  # idle spells refill the burst, which is where a naive bucket overshoots
    assert _most_in_any_window(times, WINDOW) <= LIMIT
    assert _most_in_any_window(times, WINDOW + defaults.STABILITY_RATE_SLACK_S) == LIMIT
    assert times[:10] == [0.0] * 10, "the burst goes out at once"
    steady = times[20:380]
    assert (len(steady) - 1) / (steady[-1] - steady[0]) == pytest.approx((LIMIT - 10) / (WINDOW + 1.0))  # 12.7 per second


def test_the_limiter_holds_every_thread_after_a_429_and_bounds_threads_too() -> None:
    clock = FakeClock()
    bucket = TokenBucket.for_window(LIMIT, WINDOW, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    bucket.hold(60.0)
    bucket.acquire()
    assert clock() >= 60.0

    real = TokenBucket.for_window(limit=40, window_s=0.5, burst=5, slack_s=0.2)  # the real clock; slack for thread jitter
    times: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(20):
            real.acquire()
            with lock:
                times.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(times) == 120
    assert _most_in_any_window(times, 0.5) <= 40


def test_a_cancelled_wait_takes_no_token() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, capacity=1, clock=clock, sleep=clock.sleep)
    assert bucket.acquire()
    assert bucket.acquire(cancelled=lambda: True) is False
    with pytest.raises(ValueError, match="burst must be from 1 to 149"):
        TokenBucket.for_window(burst=150)


def test_retry_waits() -> None:
    policy = RetryPolicy(max_attempts=5, base_s=2.0, max_s=120.0)
    assert [policy.delay(attempt) for attempt in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(1, retry_after=3600.0) == 120.0
    assert policy.delay(1, rate_limited=True) == defaults.STABILITY_RATE_LIMIT_TIMEOUT_S == 60.0
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Tue, 01 Dec 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Tue, 01 Dec 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("size", "padding", "sent"),
    [
        ((512, 512), (0, 0, 0, 0), (512, 512)),
        ((64, 64), (0, 0, 0, 0), (64, 64)),
        ((4096, 4096), (0, 0, 0, 0), (3072, 3072)),
        ((1280, 512), (0, 0, 0, 0), (1280, 512)),
        ((64, 512), (70, 0, 71, 0), (205, 512)),
        ((1000, 100), (0, 150, 0, 150), (1000, 400)),
        ((32, 32), (0, 0, 0, 0), (64, 64)),
    ],
)
def test_endpoint_sizes(size: tuple[int, int], padding: tuple[int, int, int, int], sent: tuple[int, int]) -> None:
    assert endpoint_size(*size) == SizeMapping(size, padding, sent)


def test_every_render_size_maps_to_an_accepted_one() -> None:
    for width in (64, 65, 100, 255, 512, 777, 1000, 2048, 3071, 3072, 3073, 4095, 4096):
        for height in (64, 99, 160, 161, 512, 1024, 2000, 4096):
            mapping = endpoint_size(width, height)
            w, h = mapping.sent
            assert min(w, h) >= 64 and 4096 <= w * h <= MAX_PIXELS and max(w, h) <= 2.5 * min(w, h), (width, height, mapping)
            padded_w, padded_h = mapping.padded
            assert abs(w / h - padded_w / padded_h) < 0.02, "scaling keeps the aspect ratio"


def _dot(size: tuple[int, int], at: tuple[int, int]) -> bytes:
    image = Image.new("RGB", size, (40, 40, 40))
    ImageDraw.Draw(image).ellipse((at[0] - 3, at[1] - 3, at[0] + 3, at[1] + 3), fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _centre_of_white(png: bytes) -> tuple[float, float]:
    image = Image.open(io.BytesIO(png)).convert("L")
    points = [(x, y) for y in range(image.height) for x in range(image.width) if image.getpixel((x, y)) > 128]
    return sum(x for x, _ in points) / len(points), sum(y for _, y in points) / len(points)


@pytest.mark.parametrize(("size", "at"), [((96, 96), (30, 70)), ((64, 400), (20, 350)), ((400, 100), (380, 10))])
def test_a_label_pixel_stays_on_its_image_pixel_through_the_round_trip(size: tuple[int, int], at: tuple[int, int]) -> None:
    sent, mapping = prepare_image(_dot(size, at))
    assert Image.open(io.BytesIO(sent)).size == mapping.sent
    with Image.open(io.BytesIO(sent)) as image:  # the service answers at its own size (here 1.5x)
        buffer = io.BytesIO()
        image.resize((round(image.width * 1.5), round(image.height * 1.5))).save(buffer, format="PNG")
    restored, received = restore_image(buffer.getvalue(), mapping)
    assert Image.open(io.BytesIO(restored)).size == size
    assert received == (round(mapping.sent[0] * 1.5), round(mapping.sent[1] * 1.5))
    x, y = _centre_of_white(restored)
    assert abs(x - at[0]) < 1.0 and abs(y - at[1]) < 1.0


def test_an_answer_that_is_no_image_is_refused() -> None:
    with pytest.raises(ValueError, match="not a readable image"):
        restore_image(b"\x89PNG\r\n\x1a\nbroken", endpoint_size(64, 64))


def test_options_are_checked_once_for_every_front_end() -> None:
    options = enhance_options("  a photo  ", mode="sketch", control_strength=0, variations=8, seed=4_294_967_294)
    assert options == EnhanceOptions("a photo", "", "sketch", 0.0, 8, 4_294_967_294, 0.04)
    for arguments, message in [
        ({"prompt": ""}, "prompt must not be empty"),
        ({"prompt": "x" * 10_001}, "prompt is 10001 characters; Stability accepts at most 10000"),
        ({"prompt": "p", "mode": "style"}, "mode 'style' is unknown"),
        ({"prompt": "p", "control_strength": 1.01}, "control_strength must be at least 0 and at most 1"),
        ({"prompt": "p", "control_strength": True}, "control_strength must be a number"),
        ({"prompt": "p", "variations": 9}, "variations must be a whole number from 1 to 8"),
        ({"prompt": "p", "seed": 0}, "seed must be a whole number from 1 to 4294967294"),
        ({"prompt": "p", "max_error": 0}, "max_error must be above 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            enhance_options(**arguments)


def test_a_render_manifest_carries_enhance_options_and_never_a_key() -> None:
    params = RenderParams(characters=(CharacterRef("hero", "a" * 64, "fbx"),), enhance=enhance_options("a photo", seed=3))
    manifest = new_render_manifest(params)
    data = manifest.to_dict()
    assert data["params"]["enhance"] == {
        "prompt": "a photo", "negative_prompt": "", "mode": "structure", "control_strength": 0.7,
        "variations": 1, "seed": 3, "max_error": 0.04,
    }  # fmt: skip
    assert manifest_from_dict(json.loads(manifest.to_json())).params == params
    assert "enhance" not in new_render_manifest(RenderParams(characters=params.characters)).to_dict()["params"]
    for enhance, message in [
        ({"prompt": "a photo", "api_key": "sk-123"}, r"params.enhance: unknown field\(s\) api_key"),
        ({"negative_prompt": "x"}, "params.enhance: prompt is required"),
        ({"prompt": "a photo", "control_strength": 2}, "params.enhance: control_strength must be"),
        ("a photo", "params.enhance: must be an object"),
    ]:
        data["params"]["enhance"] = enhance
        with pytest.raises(ManifestError, match=message) as raised:
            manifest_from_dict(data)
        assert "sk-123" not in str(raised.value), "a refused field's value is never echoed"


def test_output_names_keep_stems_and_folders() -> None:
    assert output_path("walk/front.png", 1, ".png") == "walk/front.png"
    assert output_path("walk/run/front_f0012.png", 3, ".png") == "walk/run/front_f0012_v3.png"
    assert output_path("walk/front.json", 2, ".json") == "walk/front_v2.json"


def test_control_calls_are_priced_in_credits_and_overridable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POSE_FACTORY_COST_CONFIG", "POSE_FACTORY_MAX_COST_PER_JOB", "POSE_FACTORY_WARNING_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    result = estimate("stability_control", 200, model="sketch")
    assert (result["per_image"], result["total"]) == (0.05, 10.0)  # 5 credits x $0.01
    assert result["breakdown"] == {"type": "credits", "model": "sketch", "credits_per_call": 5, "usd_per_credit": 0.01}
    with pytest.raises(UsageError, match="unknown model 'sd_1_5' \\(valid: structure, sketch\\)"):
        estimate("stability_control", 1)

    settings = load_settings()
    cost = check_enhance_cost(1000, "structure", settings)
    assert (cost.total, cost.per_request, cost.credits_per_request) == (50.0, 0.05, 5.0) and cost.warning is None
    with pytest.raises(CostLimitExceeded, match=r"estimated cost \$50.00 is above the limit of \$49.00 \(--max-cost\)"):
        check_enhance_cost(1000, "structure", settings, max_cost=49)
    monkeypatch.setenv("POSE_FACTORY_WARNING_THRESHOLD", "20")
    warning = check_enhance_cost(1000, "structure", load_settings()).warning
    assert warning == "estimated cost $50.00 is above the warning threshold of $20.00"
    monkeypatch.delenv("POSE_FACTORY_WARNING_THRESHOLD")
    with pytest.raises(CostLimitExceeded, match="1001 images is above the batch limit of 1000 images"):
        check_enhance_cost(1001, "structure", settings)
    assert check_enhance_cost(0, "structure", settings).total == 0.0

    override = tmp_path / "prices.yaml"
    override.write_text("providers:\n  stability_control:\n    credits_per_call:\n      structure: 3\n")
    monkeypatch.setenv("POSE_FACTORY_COST_CONFIG", str(override))
    cheaper = check_enhance_cost(100, "structure", load_settings())
    assert (cheaper.per_request, cheaper.total, cheaper.credits_per_request) == (0.03, 3.0, 3.0)
    assert check_enhance_cost(100, "sketch", load_settings()).per_request == 0.05, "a field-by-field merge"
    override.write_text("providers:\n  stability_control:\n    credits_per_call: {structure: 0}\n")
    with pytest.raises(ConfigError, match="credits_per_call must map call names to credit counts greater than 0"):
        load_cost_config(override)


def test_the_journal_keeps_whole_lines_only(tmp_path: Path) -> None:
    with Journal(tmp_path, {"options": {"prompt": "p"}, "base_seed": 5}) as journal:
        journal.record({"image": "c/a.png", "outcome": "done"})
    (tmp_path / JOURNAL_FILE).open("ab").write(b'{"image": "c/b.png", "out')
    run, outcomes = read_journal(tmp_path)
    assert run is not None and run["base_seed"] == 5 and list(outcomes) == ["c/a.png"]
    with Journal(tmp_path, {"ignored": True}) as journal:
        journal.record({"image": "c/b.png", "outcome": "done"})
    lines = (tmp_path / JOURNAL_FILE).read_text().splitlines()
    assert [json.loads(line).get("image") for line in lines] == [None, "c/a.png", "c/b.png"]
    assert (tmp_path / JOURNAL_FILE).stat().st_mode & 0o777 == 0o644
