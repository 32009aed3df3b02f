"""``qa.html``: the label check as one self-contained page (images inlined as base64, no scripts).

Summary numbers and flags come first, then where the error is (per landmark, per view), then the
images that disagree most with both skeletons drawn: ours in greens, MediaPipe's in magentas, the
lighter shade on the character's left side, so a left/right swap shows as crossed shades.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from PIL import Image

from .drawing import SidePalette, draw_skeleton
from .qa import MEDIAPIPE_VISIBLE_SCORE, THRESHOLD_NOTES, THRESHOLDS, VISIBILITY_CELLS
from .security import resolve_under

OURS_PALETTE: Final = SidePalette(left=(110, 255, 110), right=(0, 150, 40), centre=(200, 255, 200))
MEDIAPIPE_PALETTE: Final = SidePalette(left=(255, 110, 255), right=(160, 0, 170), centre=(255, 205, 255))
WORST_IMAGES: Final = 20
TILE_PX: Final = 340
JPEG_QUALITY: Final = 85
_GREY: Final = (128, 128, 128)

_STYLE: Final = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1120px;
       padding: 0 16px; color: #1d1d1f; background: #fafafa; }
h1 { font-size: 1.5em; margin-bottom: 4px; } h2 { font-size: 1.15em; margin-top: 32px; border-bottom: 1px solid #ddd; }
.meta { color: #666; font-size: 0.9em; }
.flags { border-radius: 6px; padding: 10px 16px; margin: 16px 0; }
.flags.bad { background: #fde8e8; border: 1px solid #e0a0a0; } .flags.good { background: #e7f6e7; border: 1px solid #9c9; }
.flags li { margin: 4px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px; }
.card .value { font-size: 1.5em; font-weight: 600; } .card .label { color: #555; font-size: 0.85em; }
.card .note { color: #777; font-size: 0.8em; margin-top: 4px; }
.card.bad { border-color: #d33; background: #fff5f5; }
table { border-collapse: collapse; background: #fff; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; } td.num { text-align: right; }
.bar { height: 12px; background: #4a7bd0; display: inline-block; vertical-align: middle; }
.bar.over { background: #d04a4a; } .barcell { width: 320px; }
.legend span { display: inline-block; margin-right: 18px; } .swatch { display: inline-block; width: 14px;
       height: 14px; border-radius: 7px; vertical-align: middle; margin-right: 4px; border: 1px solid #444; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(352px, 1fr)); gap: 14px; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 6px; }
figure img { display: block; max-width: 100%; margin: 0 auto; }
figcaption { font-size: 0.85em; margin-top: 4px; overflow-wrap: anywhere; }
.badge { background: #d33; color: #fff; border-radius: 4px; padding: 0 5px; font-size: 0.8em; white-space: nowrap; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _swatch(colour: tuple[int, int, int]) -> str:
    return f'<span class="swatch" style="background: rgb{colour}"></span>'


def _card(label: str, value: str, note: str = "", bad: bool = False) -> str:
    return (
        f'<div class="card{" bad" if bad else ""}"><div class="label">{_e(label)}</div>'
        f'<div class="value">{_e(value)}</div><div class="note">{_e(note)}</div></div>'
    )


def _bar(value: float | None, scale: float, limit: float | None = None) -> str:
    if value is None or scale <= 0:
        return ""
    over = limit is not None and value > limit
    width = max(1, round(300 * min(value / scale, 1.0)))
    return f'<span class="bar{" over" if over else ""}" style="width: {width}px"></span>'


def _flat_image(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (*_GREY, 255))
            flat.alpha_composite(rgba)
            return flat.convert("RGB")
        return image.convert("RGB")


def _mediapipe_keypoints(landmarks: Sequence[Sequence[float]], indices: Sequence[int], scale: float) -> list[list[float]]:
    """MediaPipe's landmarks as ``[x, y, v]`` for drawing: a dot when its visibility score says visible, else a ring."""
    return [
        [landmarks[i][0] * scale, landmarks[i][1] * scale, 2 if landmarks[i][3] >= MEDIAPIPE_VISIBLE_SCORE else 1]
        for i in indices
    ]


def _overlay(dataset_dir: Path, entry: Mapping[str, Any], label_set: str, mediapipe_indices: Sequence[int]) -> str:
    """Both skeletons on the image as a base64 JPEG ``data:`` URI (empty when the image cannot be read)."""
    try:
        label = json.loads(resolve_under(dataset_dir, entry["label"]).read_text(encoding="utf-8"))
        image = _flat_image(resolve_under(dataset_dir, entry["image"]))
    except (OSError, ValueError, KeyError):
        return ""
    # Drawn at the tile's size, not the image's, so lines and dots have the same width on every page.
    scale = TILE_PX / max(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    ours = [[x * scale, y * scale, v] for x, y, v in label["keypoints"][label_set]]
    drawn = draw_skeleton(image, ours, label_set, OURS_PALETTE)
    if entry.get("mediapipe"):
        theirs = _mediapipe_keypoints(entry["mediapipe"], mediapipe_indices, scale)
        drawn = draw_skeleton(drawn, theirs, label_set, MEDIAPIPE_PALETTE)
    buffer = io.BytesIO()
    drawn.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(dataset_dir: Path, entry: Mapping[str, Any], label_set: str, indices: Sequence[int]) -> str:
    source = _overlay(dataset_dir, entry, label_set, indices)
    picture = f'<img src="{source}" alt="{_e(entry["image"])}">' if source else "<p>(image not readable)</p>"
    if entry["detected"]:
        numbers = f"body {_number(entry['body_error'])}, face {_number(entry['face_error'])}"
        if entry.get("swapped_body_error") is not None:
            numbers += f", swapped L/R {_number(entry['swapped_body_error'])}"
    else:
        numbers = "MediaPipe found no person"
    badge = '<br><span class="badge">L/R swap suspect</span>' if entry.get("swap_suspect") else ""
    return (
        f"<figure>{picture}<figcaption><b>{_e(entry['image'])}</b>{badge}<br>"
        f"view {_e(entry['view'])}, azimuth {entry['azimuth_deg']:g}&deg;: {_e(numbers)}</figcaption></figure>"
    )


def _summary_cards(summary: Mapping[str, Any]) -> str:
    body, face, swap = summary["body_error"], summary["face_error"], summary["swap"]
    visibility, offset = summary["visibility"], summary["offset"]
    rate = summary["detection_rate"]
    sources = " + ".join(f"{name} ({count} images)" for name, count in sorted(summary["height_source"].items()))
    offset_value = "n/a" if offset["mean"] is None else f"{offset['mean'][0]:+.4f}, {offset['mean'][1]:+.4f}"
    offset_note = (
        ""
        if offset["mean"] is None
        else f"dx, dy in body heights ({offset['mean_px'][0]:+.1f} px, {offset['mean_px'][1]:+.1f} px); "
        f"per-image std {offset['std'][0]:.4f}, {offset['std'][1]:.4f}"
    )
    cards = [
        _card(
            "Detection rate",
            _percent(rate),
            f"{summary['detected']} of {summary['images']} images",
            rate is not None and rate < THRESHOLDS["min_detection_rate"],
        ),
        _card(
            "Median body error",
            _number(body["median"]),
            f"body heights; 90th percentile {_number(body['p90'])} over {body['images']} images",
            body["median"] is not None and body["median"] > THRESHOLDS["max_median_body_error"],
        ),
        _card("Median face error", _number(face["median"]), f"body heights; 90th percentile {_number(face['p90'])}"),
        _card(
            "Left/right swap suspects",
            str(swap["suspects"]),
            f"{swap['non_side_suspects']} of {swap['non_side_images']} non-side views ({_percent(swap['non_side_rate'])})",
            swap["non_side_rate"] is not None and swap["non_side_rate"] > THRESHOLDS["max_swap_suspect_rate"],
        ),
        _card(
            "Visibility agreement",
            _percent(visibility["agreement"]),
            f"over {visibility['landmarks']} landmarks inside the images",
            visibility["agreement"] is not None and visibility["agreement"] < THRESHOLDS["min_visibility_agreement"],
        ),
        _card(
            "Mean offset, ours − MediaPipe",
            offset_value,
            offset_note,
            offset["norm"] is not None and offset["norm"] > THRESHOLDS["max_mean_offset"],
        ),
        _card("Errors divided by", "body height", f"from {sources}; height_m: fy·H/Z at the hips, bbox: the label's box height"),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _visibility_table(summary: Mapping[str, Any]) -> str:
    counts = summary["visibility"]["counts"]
    ours_visible = (counts[VISIBILITY_CELLS[0]], counts[VISIBILITY_CELLS[1]])
    ours_hidden = (counts[VISIBILITY_CELLS[2]], counts[VISIBILITY_CELLS[3]])
    return (
        "<table><tr><th></th><th>MediaPipe visible (score &ge; "
        f"{MEDIAPIPE_VISIBLE_SCORE})</th><th>MediaPipe hidden</th></tr>"
        f'<tr><th>ours v = 2 (visible)</th><td class="num">{ours_visible[0]}</td><td class="num">{ours_visible[1]}</td></tr>'
        f'<tr><th>ours v = 1 (occluded)</th><td class="num">{ours_hidden[0]}</td><td class="num">{ours_hidden[1]}</td></tr>'
        "</table>"
    )


def _landmark_table(summary: Mapping[str, Any]) -> str:
    medians = summary["landmark_median_error"]
    known = [value for value in medians.values() if value is not None]
    limit = THRESHOLDS["max_median_body_error"]
    scale = max([*known, limit]) if known else limit
    rows = "".join(
        f'<tr><td>{_e(name)}</td><td class="num">{"never visible" if value is None else _number(value)}</td>'
        f'<td class="barcell">{_bar(value, scale, limit)}</td></tr>'
        for name, value in medians.items()
    )
    return (
        f"<p>Median over the images where our keypoint is visible, in body heights; red bars are above {limit} "
        "(the limit for the median body error).</p>"
        f"<table><tr><th>landmark</th><th>median error</th><th></th></tr>{rows}</table>"
    )


def _view_table(summary: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_e(view)}</td><td>{'side' if entry['side'] else ''}</td><td class='num'>{entry['images']}</td>"
        f"<td class='num'>{entry['detected']}</td><td class='num'>{_percent(entry['detection_rate'])}</td>"
        f"<td class='barcell'>{_bar(entry['detection_rate'], 1.0)}</td>"
        f"<td class='num'>{_number(entry['median_body_error'])}</td><td class='num'>{entry['swap_suspects']}</td></tr>"
        for view, entry in summary["views"].items()
    )
    return (
        "<table><tr><th>view</th><th></th><th>images</th><th>detected</th><th>rate</th><th></th>"
        f"<th>median body error</th><th>swap suspects</th></tr>{rows}</table>"
    )


def _legend() -> str:
    return (
        '<p class="legend">'
        f"<span>{_swatch(OURS_PALETTE.left)}{_swatch(OURS_PALETTE.right)}our labels (left, right)</span>"
        f"<span>{_swatch(MEDIAPIPE_PALETTE.left)}{_swatch(MEDIAPIPE_PALETTE.right)}MediaPipe (left, right)</span>"
        "<span>dot = visible, ring = occluded (ours: v = 1; MediaPipe: visibility score below "
        f"{MEDIAPIPE_VISIBLE_SCORE})</span></p>"
    )


def render_report(qa: Mapping[str, Any], dataset_dir: Path) -> str:
    """The page for ``qa`` (the content of ``qa.json``), reading the images it shows from ``dataset_dir``."""
    summary = qa["summary"]
    label_set = summary["label_set"]
    indices = qa["mediapipe_indices"]
    images = qa["images"]
    detected = [entry for entry in images if entry["detected"] and entry["body_error"] is not None]
    worst = sorted(detected, key=lambda entry: entry["body_error"], reverse=True)[:WORST_IMAGES]
    missed = [entry for entry in images if not entry["detected"]]
    flags = summary["flags"]
    flag_box = (
        '<div class="flags bad"><b>Flags</b><ul>' + "".join(f"<li>{_e(flag)}</li>" for flag in flags) + "</ul></div>"
        if flags
        else '<div class="flags good"><b>No flags</b>: every number is within its threshold.</div>'
    )
    missed_section = ""
    if missed:
        shown = "".join(_figure(dataset_dir, entry, label_set, indices) for entry in missed[:WORST_IMAGES])
        rest = missed[WORST_IMAGES:]
        more = f"<p>and {len(rest)} more: {_e(', '.join(entry['image'] for entry in rest))}</p>" if rest else ""
        missed_section = (
            f"<h2>Images without a detected person ({len(missed)})</h2>"
            f'<p>Our labels only.</p><div class="grid">{shown}</div>{more}'
        )
    thresholds = "".join(
        f"<tr><td>{_e(name)}</td><td class='num'>{value:g}</td><td>{_e(THRESHOLD_NOTES[name])}</td></tr>"
        for name, value in THRESHOLDS.items()
    )
    worst_figures = "".join(_figure(dataset_dir, entry, label_set, indices) for entry in worst)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Label check: {_e(qa["dataset"])}</title><style>{_STYLE}</style></head>
<body>
<h1>Label check against MediaPipe Pose</h1>
<p class="meta">Dataset {_e(qa["dataset"])} &middot; {summary["images"]} images &middot; compared on {_e(label_set)}
&middot; MediaPipe {_e(qa["mediapipe_version"])} &middot; {_number(qa["seconds_per_image"], 3)} s per image
&middot; {_e(qa["created"])}</p>
<section id="summary"><h2>Summary</h2>{flag_box}{_summary_cards(summary)}
<p>Errors are pixel distances divided by the body height in pixels, over our visible keypoints (v = 2).
MediaPipe is an estimate too: agreement is evidence, not ground truth, and its landmarks sit at slightly
different anatomical places than rig joints, so a small error remains even for correct labels.</p></section>
<section id="visibility"><h2>Visibility</h2>{_visibility_table(summary)}</section>
<section id="landmarks"><h2>Error per landmark</h2>{_landmark_table(summary)}</section>
<section id="views"><h2>Per view</h2>{_view_table(summary)}</section>
<section id="worst"><h2>The {len(worst)} images that disagree most (by body error)</h2>{_legend()}
<div class="grid">{worst_figures}</div></section>
{missed_section}
<section id="thresholds"><h2>Thresholds</h2><p>Set in pose_factory_addon/core/qa.py; docs/qa.md explains each number.</p>
<table>{thresholds}</table></section>
</body></html>
"""
