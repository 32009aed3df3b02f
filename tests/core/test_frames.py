"""The --frames mini-language."""

from __future__ import annotations

import pytest

from pose_factory_addon.core.frames import frame_count_estimate, parse_frame_spec, select_frames


@pytest.mark.parametrize(
    ("spec", "first", "last", "expected"),
    [
        ("1", 1, 48, [1]),
        ("1,10,20", 1, 48, [1, 10, 20]),
        ("20,1,10,10", 1, 48, [1, 10, 20]),
        ("all", 1, 5, [1, 2, 3, 4, 5]),
        ("every:10", 1, 48, [1, 11, 21, 31, 41]),
        ("count:3", 1, 49, [1, 25, 49]),
        ("count:10", 1, 4, [1, 2, 3, 4]),
        ("count:1", 1, 48, [1]),
        ("1,100", 1, 48, [1]),
    ],
)
def test_select(spec: str, first: int, last: int, expected: list[int]) -> None:
    assert select_frames(parse_frame_spec(spec), first, last) == expected


@pytest.mark.parametrize("spec", ["", "0.5", "every:", "every:0", "count:-1", "some", "1-5", "every:99999999"])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="frame"):
        parse_frame_spec(spec)


def test_nothing_selected_is_an_error() -> None:
    with pytest.raises(ValueError, match="select nothing"):
        select_frames(parse_frame_spec("100"), 1, 48)


def test_round_trip_text_and_estimates() -> None:
    for text in ("1", "1,10,20", "all", "every:4", "count:3"):
        assert str(parse_frame_spec(text)) == text
    assert frame_count_estimate(parse_frame_spec("1,10,20")) == 3
    assert frame_count_estimate(parse_frame_spec("count:3")) == 3
    assert frame_count_estimate(parse_frame_spec("every:4"), animation_frames=10) == 3
    assert frame_count_estimate(parse_frame_spec("all"), animation_frames=10) == 10
