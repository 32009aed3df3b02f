"""safe_slug / resolve_under / redact: no input escapes, whatever it is."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pose_factory_addon.core.security import is_safe_slug, redact, resolve_under, safe_slug

HOSTILE = [
    "../../etc/passwd",
    "..",
    "...",
    "/",
    "\\..\\..\\windows",
    "a/../../b",
    "%2e%2e%2f",
    "....//",
    "x\x00y",
    " .hidden ",
    "\u2025\uff0fetc\uff0fpasswd",  # two-dot leader and fullwidth solidus: ".." and "/" once decomposed
    "\u2024\u2024/x",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_names_become_plain_slugs(value: str) -> None:
    try:
        slug = safe_slug(value)
    except ValueError:
        return
    assert "/" not in slug and "\\" not in slug and ".." not in slug
    assert slug == slug.strip("_.")


def test_documented_examples() -> None:
    assert safe_slug("../../etc/passwd") == "etcpasswd"
    assert safe_slug("X Bot (1)") == "X_Bot_1"
    assert safe_slug("walk.fbx", allow_dots=True) == "walk.fbx"
    assert safe_slug("walk.fbx") == "walk_fbx"
    assert safe_slug("a" * 100) == "a" * 64
    assert safe_slug("ab_" * 30, max_length=10) == "ab_ab_ab_a"


@pytest.mark.parametrize(
    ("value", "slug"),
    [
        ("Ünïcødé bot", "Unicode_bot"),
        ("Straße", "Strasse"),
        ("Łódź Æsir", "Lodz_AEsir"),
        ("naïve café.fbx", "naive_cafe_fbx"),
        ("\ufb01le", "file"),
        ("张三 X", "X"),
        ("\u2025\uff0fetc\uff0fpasswd", "etcpasswd"),
    ],
)
def test_accented_latin_letters_are_spelled_in_ascii(value: str, slug: str) -> None:
    assert safe_slug(value) == slug


@given(st.text(min_size=1, max_size=60))
@settings(max_examples=300, deadline=None)
def test_composed_and_decomposed_names_get_one_slug(value: str) -> None:
    """macOS stores file names decomposed (NFD), most other systems composed (NFC): one character, one name."""

    def slug_or_none(text: str) -> str | None:
        try:
            return safe_slug(text)
        except ValueError:
            return None

    assert slug_or_none(unicodedata.normalize("NFD", value)) == slug_or_none(unicodedata.normalize("NFC", value))


@pytest.mark.parametrize("value", ["", "///", "..", "___", "...", "\\\\", "张三", "\u2025"])
def test_empty_or_nothing_safe_raises(value: str) -> None:
    with pytest.raises(ValueError):
        safe_slug(value)


@given(st.text(min_size=1, max_size=200), st.integers(min_value=1, max_value=80), st.booleans())
@settings(max_examples=500, deadline=None)
def test_no_input_escapes(value: str, max_length: int, allow_dots: bool) -> None:
    try:
        slug = safe_slug(value, max_length=max_length, allow_dots=allow_dots)
    except ValueError:
        return
    assert 0 < len(slug) <= max_length
    assert "/" not in slug and "\\" not in slug and ".." not in slug
    assert not slug.startswith(("_", ".")) and not slug.endswith(("_", "."))
    assert all(c.isascii() and (c.isalnum() or c in "_-" or (allow_dots and c == ".")) for c in slug)
    assert safe_slug(slug, max_length=max_length, allow_dots=allow_dots) == slug
    assert is_safe_slug(slug, max_length=max_length, allow_dots=allow_dots)


def test_resolve_under_accepts_nested_keys(tmp_path: Path) -> None:
    assert resolve_under(tmp_path, "X_Bot/front.png") == tmp_path.resolve() / "X_Bot" / "front.png"
    assert resolve_under(tmp_path, "a", "b") == tmp_path.resolve() / "a" / "b"


@pytest.mark.parametrize("part", ["../x", "a/../../x", "/etc/passwd", "\\windows", "C:\\x", "a/\x00", ""])
def test_resolve_under_refuses_escapes(tmp_path: Path, part: str) -> None:
    with pytest.raises(ValueError):
        resolve_under(tmp_path, part)


def test_resolve_under_refuses_symlink_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(ValueError):
        resolve_under(root, "link/file.txt")


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4))
@settings(max_examples=300, deadline=None)
def test_resolve_under_never_leaves_root(tmp_path_factory: pytest.TempPathFactory, parts: list[str]) -> None:
    root = tmp_path_factory.getbasetemp() / "root"
    root.mkdir(exist_ok=True)
    try:
        result = resolve_under(root, *parts)
    except ValueError:
        return
    assert result == root.resolve() or root.resolve() in result.parents


def test_redact_hides_environment_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value")
    monkeypatch.setenv("RUNPOD_API_KEY", "rp-key-123")
    message = redact("auth failed for s3cr3t-value with rp-key-123")
    assert "s3cr3t-value" not in message and "rp-key-123" not in message
    assert message.count("***") == 2
    assert redact("token abcd here", secrets=["abcd"]) == "token *** here"
