"""Skeletons drawn on images and contact sheets (Pillow), for debug overlays and ``pose-factory preview``.

Colours say which side a keypoint belongs to (the character's left in blue, right in
orange, centre in white, or another :class:`SidePalette`); a filled dot is visible (2), a hollow
ring is occluded (1); keypoints outside the image (0) are not drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from PIL import Image, ImageDraw

from .skeletons import keypoint_set

LEFT_COLOUR = (60, 140, 255)
RIGHT_COLOUR = (255, 140, 40)
CENTRE_COLOUR = (255, 255, 255)
BACKGROUND_COLOUR = (32, 32, 36)

Colour = tuple[int, int, int]


class SidePalette(NamedTuple):
    """RGB colours of the character's left side, right side and centre (nose, and lines between sides)."""

    left: Colour
    right: Colour
    centre: Colour


SIDE_PALETTE = SidePalette(LEFT_COLOUR, RIGHT_COLOUR, CENTRE_COLOUR)


def _side_colour(name: str, palette: SidePalette = SIDE_PALETTE) -> Colour:
    if name.startswith("left") or name.endswith("left"):
        return palette.left
    if name.startswith("right") or name.endswith("right"):
        return palette.right
    return palette.centre


def draw_skeleton(
    image: Image.Image,
    keypoints: Sequence[Sequence[float]],
    label_set: str = "coco17",
    palette: SidePalette = SIDE_PALETTE,
) -> Image.Image:
    """A copy of ``image`` (RGB) with the ``label_set`` skeleton drawn from ``[x, y, v]`` keypoints (pixels).

    ``palette`` tells two skeletons on one image apart (labels and a detector's, in ``pose-factory qa``).
    """
    definition = keypoint_set(label_set)
    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    size = max(canvas.size)
    width = max(1, round(size / 200))
    radius = max(2, round(size / 120))
    for a, b in definition.edges:
        (xa, ya, va), (xb, yb, vb) = keypoints[a], keypoints[b]
        if va > 0 and vb > 0:
            colour = (
                _side_colour(definition.names[b], palette)
                if _side_colour(definition.names[a], palette) == palette.centre
                else _side_colour(definition.names[a], palette)
            )
            draw.line([(xa, ya), (xb, yb)], fill=colour, width=width)
    for name, (x, y, visibility) in zip(definition.names, keypoints, strict=True):
        if visibility <= 0:
            continue
        box = [x - radius, y - radius, x + radius, y + radius]
        colour = _side_colour(name, palette)
        if visibility >= 2:
            draw.ellipse(box, fill=colour, outline=(0, 0, 0))
        else:
            draw.ellipse(box, outline=colour, width=max(1, width))
    return canvas


MASK_OUTLINE_COLOUR = (255, 60, 220)


def draw_mask_outline(image: Image.Image, mask: Image.Image, colour: tuple[int, int, int] = MASK_OUTLINE_COLOUR) -> Image.Image:
    """A copy of ``image`` (RGB) with the border of ``mask`` (non-zero = person, same size) drawn on it."""
    from PIL import ImageChops, ImageFilter

    inside = mask.convert("L").point(lambda value: 255 if value > 0 else 0)
    border = ImageChops.subtract(inside, inside.filter(ImageFilter.MinFilter(3)))
    canvas = image.convert("RGB")
    canvas.paste(Image.new("RGB", canvas.size, colour), mask=border)
    return canvas


def _fit(caption: str, limit: int) -> str:
    """Shorten the first word (the character name) from its start, where names share prefixes, so the rest
    of the caption (view, frame) stays readable."""
    if len(caption) <= limit:
        return caption
    head, _, tail = caption.partition(" ")
    room = limit - len(tail) - 2
    return f"~{head[-room:]} {tail}" if room > 0 else caption[:limit]


def contact_sheet(tiles: Sequence[tuple[Image.Image, str]], columns: int, tile_size: int = 256) -> Image.Image:
    """Tiles (image, caption) in a grid of ``columns``, each scaled to fit ``tile_size`` pixels, caption below."""
    if not tiles:
        raise ValueError("a contact sheet needs at least one image")
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    caption_height = 16
    sheet = Image.new("RGB", (columns * tile_size, rows * (tile_size + caption_height)), BACKGROUND_COLOUR)
    draw = ImageDraw.Draw(sheet)
    for index, (image, caption) in enumerate(tiles):
        tile = image.convert("RGB")
        tile.thumbnail((tile_size, tile_size))
        left = (index % columns) * tile_size
        top = (index // columns) * (tile_size + caption_height)
        sheet.paste(tile, (left + (tile_size - tile.width) // 2, top + (tile_size - tile.height) // 2))
        draw.text((left + 4, top + tile_size + 2), _fit(caption, tile_size // 6), fill=(220, 220, 220))
    return sheet
