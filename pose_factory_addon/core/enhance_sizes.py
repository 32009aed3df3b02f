"""Image sizes Stability's control endpoints accept, and the mapping that brings their answer back onto our labels.

The endpoints take an image whose sides are at least 64 px, whose pixel count is 4,096 to
9,437,184 and whose aspect ratio is between 1:2.5 and 2.5:1, in a request under 10 MiB; they
answer with an image of their own size. A render outside those bounds is padded (black bars,
centred) to the aspect limit and scaled into the pixel range; the answer is scaled back to the
padded frame and the bars are cut off, so the result has the render's exact size and field of
view and every label pixel coordinate stays valid. Pillow is imported when an image is touched.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any, Final

MIN_SIDE: Final = 64
MIN_PIXELS: Final = 4_096
MAX_PIXELS: Final = 9_437_184
MAX_ASPECT: Final = 2.5
MAX_REQUEST_BYTES: Final = 10 * 1024 * 1024
_IMAGE_BUDGET_BYTES: Final = MAX_REQUEST_BYTES - 256 * 1024  # room for the prompts and the multipart framing
_SHRINK: Final = 0.8  # per try, when a PNG is too large to send
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class SizeMapping:
    """How a render becomes a request: ``padding`` (left, top, right, bottom) px at the render's scale
    turns ``source`` (w, h) into the padded frame, which is scaled to ``sent`` (w, h) px."""

    source: tuple[int, int]
    padding: tuple[int, int, int, int]
    sent: tuple[int, int]

    @property
    def padded(self) -> tuple[int, int]:
        """The render with its bars, (w, h) px at the render's scale."""
        left, top, right, bottom = self.padding
        return self.source[0] + left + right, self.source[1] + top + bottom

    def record(self, received: tuple[int, int]) -> dict[str, Any]:
        """JSON-ready: what was sent and received, so a label's pixel can be traced to the answer's pixel.

        A render pixel ``(x, y)`` is ``((x + left) * rw / pw, (y + top) * rh / ph)`` in the answer, with
        ``(rw, rh)`` = ``received`` and ``(pw, ph)`` = the padded frame.
        """
        return {"source": list(self.source), "padding": list(self.padding), "sent": list(self.sent), "received": list(received)}


def _accepted(width: int, height: int) -> bool:
    return (
        min(width, height) >= MIN_SIDE
        and MIN_PIXELS <= width * height <= MAX_PIXELS
        and max(width, height) <= MAX_ASPECT * min(width, height)
    )


def _padding(width: int, height: int) -> tuple[int, int, int, int]:
    """Bars that bring the aspect ratio to at most 2.5:1, split evenly (the odd pixel right or bottom)."""
    if width > MAX_ASPECT * height:
        extra = math.ceil(width / MAX_ASPECT) - height
        return 0, extra // 2, 0, extra - extra // 2
    if height > MAX_ASPECT * width:
        extra = math.ceil(height / MAX_ASPECT) - width
        return extra // 2, 0, extra - extra // 2, 0
    return 0, 0, 0, 0


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    """``(width, height) * scale`` rounded into the accepted range, keeping the aspect ratio within a pixel."""
    for rounding in (round, math.floor, math.ceil):
        size = (max(MIN_SIDE, int(rounding(width * scale))), max(MIN_SIDE, int(rounding(height * scale))))
        if _accepted(*size):
            return size
    raise ValueError(f"no accepted size for {width}x{height} at scale {scale:g}")


def endpoint_size(width: int, height: int, max_pixels: int = MAX_PIXELS) -> SizeMapping:
    """The size to send a ``width`` x ``height`` px render at: as it is when accepted, else padded and/or scaled.

    ``max_pixels`` lowers the pixel limit (used when a PNG is too large to send).

    Raises:
        ValueError: a side is below 1 px.
    """
    if width < 1 or height < 1:
        raise ValueError(f"an image of {width}x{height} px cannot be sent")
    padding = _padding(width, height)
    padded_w, padded_h = width + padding[0] + padding[2], height + padding[1] + padding[3]
    limit = min(max_pixels, MAX_PIXELS)
    if _accepted(padded_w, padded_h) and padded_w * padded_h <= limit:
        return SizeMapping((width, height), padding, (padded_w, padded_h))
    pixels = padded_w * padded_h
    if pixels > limit:
        scale = math.sqrt(limit / pixels)
    else:
        scale = max(MIN_SIDE / min(padded_w, padded_h), math.sqrt(MIN_PIXELS / pixels))
    return SizeMapping((width, height), padding, _scaled(padded_w, padded_h, scale))


def prepare_image(png: bytes) -> tuple[bytes, SizeMapping]:
    """The render as the PNG to send (RGB, alpha flattened onto black) and its mapping; shrunk until under 10 MiB."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as opened:
        opened.load()
        source = opened
    rgb = Image.new("RGB", source.size, (0, 0, 0))
    rgb.paste(source.convert("RGBA"), mask=source.convert("RGBA").getchannel("A"))
    mapping = endpoint_size(*source.size)
    while True:
        left, top, _, _ = mapping.padding
        frame = Image.new("RGB", mapping.padded, (0, 0, 0))
        frame.paste(rgb, (left, top))
        sent = frame if frame.size == mapping.sent else frame.resize(mapping.sent, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        sent.save(buffer, format="PNG")
        data = buffer.getvalue()
        smaller = int(mapping.sent[0] * mapping.sent[1] * _SHRINK)
        if len(data) <= _IMAGE_BUDGET_BYTES or smaller < MIN_PIXELS:
            return data, mapping
        mapping = endpoint_size(*source.size, max_pixels=smaller)


def restore_image(answer: bytes, mapping: SizeMapping) -> tuple[bytes, tuple[int, int]]:
    """The endpoint's answer at the render's size and framing, as PNG bytes, and the size it came in (w, h) px.

    Raises:
        ValueError: the answer is not an image Pillow can read.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(answer)) as opened:
            opened.load()
            received = opened.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"the answer is not a readable image ({error})") from None
    frame = received if received.size == mapping.padded else received.resize(mapping.padded, Image.Resampling.LANCZOS)
    left, top, _, _ = mapping.padding
    restored = frame.crop((left, top, left + mapping.source[0], top + mapping.source[1]))
    buffer = io.BytesIO()
    restored.save(buffer, format="PNG")
    return buffer.getvalue(), (received.width, received.height)
