"""The saved pod id: in the user config dir (never the project root), validated on read and write, written atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from pose_factory_addon.core.errors import PodError, UsageError
from pose_factory_addon.core.pod_state import pod_id_path, read_pod_id, save_pod_id

POD_ID = "ld5b9pkblr0xdu"


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "xdg"


def test_nothing_saved(config_home: Path) -> None:
    assert read_pod_id() is None


def test_save_and_read(config_home: Path, tmp_path: Path) -> None:
    path = save_pod_id(POD_ID)
    assert path == pod_id_path() == config_home / "pose-factory" / "pod_id"
    assert path.read_text() == POD_ID + "\n"
    assert read_pod_id() == POD_ID
    assert not (tmp_path / ".pod_id").exists()


def test_overwrite_leaves_no_temporary_files(config_home: Path) -> None:
    save_pod_id(POD_ID)
    save_pod_id("8f3kq0zt2mxa1c")
    assert read_pod_id() == "8f3kq0zt2mxa1c"
    assert sorted(child.name for child in (config_home / "pose-factory").iterdir()) == ["pod_id"]


@pytest.mark.parametrize("bad", ['abc") { x }', "LD5B9PKBLR0XDU", "../../etc/passwd", "", "ld5b9pkblr0xdu\nrm -rf"])
def test_invalid_id_is_never_written(config_home: Path, bad: str) -> None:
    with pytest.raises(UsageError):
        save_pod_id(bad)
    assert not pod_id_path().exists()


def test_tampered_file_is_refused_on_read(config_home: Path) -> None:
    path = save_pod_id(POD_ID)
    path.write_text('abc") { x }\n')
    with pytest.raises(PodError, match="does not hold a valid pod id"):
        read_pod_id()


def test_environ_argument_chooses_the_directory(tmp_path: Path) -> None:
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "other")}
    save_pod_id(POD_ID, environ)
    assert read_pod_id(environ) == POD_ID
    assert (tmp_path / "other" / "pose-factory" / "pod_id").is_file()
