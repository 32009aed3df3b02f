"""Skeleton overlays and contact sheets."""

from __future__ import annotations

import pytest
from PIL import Image

from pose_factory_addon.core import drawing


def test_draw_skeleton_marks_visible_keypoints_only():
    image = Image.new("RGB", (100, 100))
    keypoints = [[50.0, 50.0, 0]] * 17
    keypoints[5] = [30.0, 40.0, 2]  # left_shoulder
    keypoints[6] = [70.0, 40.0, 1]  # right_shoulder, occluded: a ring
    drawn = drawing.draw_skeleton(image, keypoints)
    assert drawn.getpixel((30, 40)) == drawing.LEFT_COLOUR
    assert drawn.getpixel((70, 42)) == drawing.RIGHT_COLOUR  # ring edge below the line
    assert drawn.getpixel((50, 40)) == drawing.LEFT_COLOUR  # the shoulder line
    assert drawn.getpixel((50, 50)) == (0, 0, 0)  # keypoints outside the image are not drawn
    assert image.getpixel((30, 40)) == (0, 0, 0)  # the original is untouched


def test_contact_sheet_layout_and_captions():
    tiles = [(Image.new("RGB", (64, 32), (200, 0, 0)), "A_very_long_character_name front f1")] * 5
    sheet = drawing.contact_sheet(tiles, columns=2, tile_size=64)
    assert sheet.size == (128, 3 * (64 + 16))
    assert drawing._fit("A_very_long_character_name front f1", 20) == "~acter_name front f1"
    with pytest.raises(ValueError):
        drawing.contact_sheet([], 2)


def test_a_palette_draws_a_second_skeleton_in_other_colours():
    image = Image.new("RGB", (100, 100))
    keypoints = [[50.0, 50.0, 0]] * 17
    keypoints[5] = [30.0, 40.0, 2]  # left_shoulder
    keypoints[6] = [70.0, 40.0, 2]  # right_shoulder
    palette = drawing.SidePalette(left=(0, 255, 0), right=(0, 120, 0), centre=(200, 255, 200))
    drawn = drawing.draw_skeleton(image, keypoints, palette=palette)
    assert drawn.getpixel((30, 40)) == palette.left and drawn.getpixel((70, 40)) == palette.right
    assert drawn.getpixel((50, 40)) == palette.left
    assert drawing.draw_skeleton(image, keypoints).getpixel((70, 40)) == drawing.RIGHT_COLOUR


def test_mask_outline_draws_the_border_only():
    image = Image.new("RGB", (40, 40))
    mask = Image.new("L", (40, 40))
    mask.paste(255, (10, 10, 30, 30))
    drawn = drawing.draw_mask_outline(image, mask)
    assert drawn.getpixel((10, 20)) == drawing.MASK_OUTLINE_COLOUR and drawn.getpixel((29, 20)) == drawing.MASK_OUTLINE_COLOUR
    assert drawn.getpixel((20, 20)) == (0, 0, 0) and drawn.getpixel((5, 5)) == (0, 0, 0)
