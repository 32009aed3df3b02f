"""The --frames mini-language: explicit lists, all, every:K, and the pose-aware count:K and diverse:K."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pose_factory_addon.core import defaults
from pose_factory_addon.core.frames import frame_count_estimate, parse_frame_spec, pose_distances, select_frames


def _cycle(frames: int, closed: bool) -> np.ndarray:
    """Poses [F, 2, 3] of two joints swinging through one cycle of ``frames`` frames (one frame more, repeating
    the first, when ``closed``): a walk-like loop, 20 cm of swing."""
    count = frames + (1 if closed else 0)
    phase = 2.0 * math.pi * np.arange(count) / frames
    left = np.stack([0.1 + 0.0 * phase, 0.2 * np.sin(phase), -0.5 + 0.05 * np.cos(phase)], axis=1)
    right = left * np.array([-1.0, -1.0, 1.0])
    return np.stack([left, right], axis=1)


def _ramp(frames: int) -> np.ndarray:
    """Poses of a one-way motion (a squat going down): every frame different, the last far from the first."""
    depth = np.linspace(0.0, 0.5, frames)
    return np.stack([np.stack([0.1 + 0 * depth, -depth, -0.5 + depth], axis=1)] * 2, axis=1)


@pytest.mark.parametrize(
    ("spec", "first", "last", "expected"),
    [
        ("1", 1, 48, [1]),
        ("1,10,20", 1, 48, [1, 10, 20]),
        ("20,1,10,10", 1, 48, [1, 10, 20]),
        ("all", 1, 5, [1, 2, 3, 4, 5]),
        ("every:10", 1, 48, [1, 11, 21, 31, 41]),
        ("48", 1, 48, [48]),
    ],
)
def test_select_without_poses(spec: str, first: int, last: int, expected: list[int]) -> None:
    assert select_frames(parse_frame_spec(spec), first, last).frames == expected


@pytest.mark.parametrize(("spec", "first", "last", "shown"), [("1,999", 1, 32, "999"), ("0,5", 1, 32, "0"), ("5", 1, 1, "5")])
def test_frames_outside_the_clip_are_an_error_naming_its_range(spec: str, first: int, last: int, shown: str) -> None:
    with pytest.raises(ValueError, match=rf"frames {shown}.*outside.*{first}") as caught:
        select_frames(parse_frame_spec(spec), first, last)
    assert (f"to {last}" in str(caught.value)) if last > first else ("only frame 1" in str(caught.value))


def test_count_spans_a_one_way_clip_from_first_to_last() -> None:
    choice = select_frames(parse_frame_spec("count:3"), 1, 49, _ramp(49))
    assert choice.frames == [1, 25, 49] and not choice.loop
    assert select_frames(parse_frame_spec("count:10"), 1, 4, _ramp(4)).frames == [1, 2, 3, 4]
    assert select_frames(parse_frame_spec("count:1"), 1, 48, _ramp(48)).frames == [1]


@pytest.mark.parametrize("closed", [True, False], ids=["last_repeats_first", "open_cycle"])
def test_count_on_a_looping_clip_gives_different_poses(closed: bool) -> None:
    poses = _cycle(32, closed)
    choice = select_frames(parse_frame_spec("count:2"), 1, len(poses), poses)
    assert choice.loop and choice.frames == [1, 17]
    first, second = (poses[frame - 1] for frame in choice.frames)
    assert pose_distances(first[None], second)[0] > 0.1
    assert select_frames(parse_frame_spec("count:4"), 1, len(poses), poses).frames == [1, 9, 17, 25]


def test_count_never_returns_matching_poses() -> None:
    still = np.zeros((30, 2, 3))
    assert select_frames(parse_frame_spec("count:5"), 1, 30, still).frames == [1]
    held = np.concatenate([_ramp(10), np.repeat(_ramp(10)[-1:], 20, axis=0)])
    frames = select_frames(parse_frame_spec("count:6"), 1, 30, held).frames
    assert frames[0] == 1 and len(frames) < 6


def test_diverse_picks_mutually_distant_poses_and_records_their_distances() -> None:
    rng = np.random.default_rng(3)
    poses = np.cumsum(rng.normal(0.0, 0.01, (500, 12, 3)), axis=0)
    choice = select_frames(parse_frame_spec("diverse:8"), 1, 500, poses)
    assert len(choice.frames) == 8 and choice.frames == sorted(choice.frames)
    picked = poses[np.array(choice.frames) - 1]
    pairwise = [pose_distances(picked[j][None], picked[i])[0] for i in range(8) for j in range(i + 1, 8)]
    evenly = poses[np.linspace(0, 499, 8).round().astype(int)]
    even_pairs = [pose_distances(evenly[j][None], evenly[i])[0] for i in range(8) for j in range(i + 1, 8)]
    assert min(pairwise) > 0.05 and min(pairwise) > min(even_pairs)
    assert choice.pose_distances_m == pytest.approx(
        [min(d for j, d in enumerate(pose_distances(picked, picked[i])) if j != i) for i in range(8)], abs=1e-5
    )


def test_diverse_stops_when_poses_run_out() -> None:
    two_poses = np.concatenate([np.zeros((10, 2, 3)), np.ones((10, 2, 3))])
    choice = select_frames(parse_frame_spec("diverse:5"), 1, 20, two_poses)
    assert len(choice.frames) == 2 and choice.pose_distances_m == [pytest.approx(math.sqrt(3))] * 2


def test_pose_modes_need_the_poses() -> None:
    with pytest.raises(ValueError, match="poses"):
        select_frames(parse_frame_spec("diverse:3"), 1, 10)
    with pytest.raises(ValueError, match="expected 10 poses"):
        select_frames(parse_frame_spec("count:3"), 1, 10, np.zeros((9, 2, 3)))


@pytest.mark.parametrize(
    "spec", ["", "0.5", "every:", "every:0", "count:-1", "some", "1-5", "every:99999999", "diverse:0", "diverse"]
)
def test_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="frame"):
        parse_frame_spec(spec)


def test_round_trip_text_and_estimates() -> None:
    for text in ("1", "1,10,20", "all", "every:4", "count:3", "diverse:7"):
        assert str(parse_frame_spec(text)) == text
    assert parse_frame_spec("diverse:7").needs_poses and not parse_frame_spec("all").needs_poses
    assert frame_count_estimate(parse_frame_spec("1,10,20")) == 3
    assert frame_count_estimate(parse_frame_spec("count:3")) == 3
    assert frame_count_estimate(parse_frame_spec("diverse:5")) == 5
    assert frame_count_estimate(parse_frame_spec("every:4"), animation_frames=10) == 3
    assert frame_count_estimate(parse_frame_spec("all"), animation_frames=10) == 10
    assert defaults.SAME_POSE_M < 0.05


def test_count_moves_off_a_frame_that_repeats_a_chosen_pose() -> None:
    """A wave swings through the same angle at the start and halfway: count:2 takes a frame next to halfway."""
    phase = 2.0 * math.pi * np.arange(32) / 32
    hand = np.stack([0.3 * np.sin(phase), 0.0 * phase, 0.5 + 0.0 * phase], axis=1)
    poses = np.stack([hand, np.zeros_like(hand)], axis=1)
    choice = select_frames(parse_frame_spec("count:2"), 1, 32, poses)
    assert choice.frames in ([1, 18], [1, 16])
    assert choice.pose_distances_m[0] > defaults.SAME_POSE_M / 2
