"""ObjectStore contract, run against LocalStore and S3Store (SeaweedFS)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pose_factory_addon.core.config import load_settings
from pose_factory_addon.core.errors import StoreError
from pose_factory_addon.core.store import LocalStore, ObjectStore, S3Store, open_store, sha256_file, validate_key


def test_get_put_and_etags(store: ObjectStore) -> None:
    assert store.get("jobs/a.json") is None
    assert not store.exists("jobs/a.json")
    etag = store.put("jobs/a.json", b"one")
    stored = store.get("jobs/a.json")
    assert stored is not None and stored.data == b"one" and stored.etag == etag
    assert store.exists("jobs/a.json")
    assert store.put("jobs/a.json", b"two") != etag


def test_put_if_absent_creates_once(store: ObjectStore) -> None:
    assert store.put_if_absent("lease.json", b"first") is not None
    assert store.put_if_absent("lease.json", b"second") is None
    stored = store.get("lease.json")
    assert stored is not None and stored.data == b"first"


def test_put_if_match_is_compare_and_swap(store: ObjectStore) -> None:
    etag = store.put("lease.json", b"v1")
    assert store.put_if_match("lease.json", b"v2", "not-the-etag") is None
    new_etag = store.put_if_match("lease.json", b"v2", etag)
    assert new_etag is not None
    assert store.put_if_match("lease.json", b"v3", etag) is None
    stored = store.get("lease.json")
    assert stored is not None and stored.data == b"v2" and stored.etag == new_etag
    assert store.put_if_match("missing.json", b"x", new_etag) is None
    assert store.get("missing.json") is None


def test_list_by_prefix_and_delete(store: ObjectStore) -> None:
    for key in ("jobs/pending/a.json", "jobs/pending/b.json", "jobs/status/a.json", "results/a/x/y.png"):
        store.put(key, b"x")
    assert store.list("jobs/pending/") == ["jobs/pending/a.json", "jobs/pending/b.json"]
    assert store.list("jobs/") == ["jobs/pending/a.json", "jobs/pending/b.json", "jobs/status/a.json"]
    assert store.list("results/a/") == ["results/a/x/y.png"]
    assert store.list("nothing/") == []
    store.delete("jobs/pending/a.json")
    store.delete("jobs/pending/never-existed.json")
    assert store.list("jobs/pending/") == ["jobs/pending/b.json"]


def test_streaming_upload_and_download(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    store.upload_file("assets/big.bin", source)
    target = tmp_path / "out" / "copy.bin"
    store.download_file("assets/big.bin", target)
    assert sha256_file(target) == sha256_file(source)
    with pytest.raises(StoreError, match=r"download .*assets/missing\.bin"):
        store.download_file("assets/missing.bin", tmp_path / "missing.bin")
    assert not (tmp_path / "missing.bin").exists()
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["copy.bin"]


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a//b", ".hidden", "a/.lock", "a\\b", "a/b c", "", "x\x00y"])
def test_unsafe_keys_are_refused_everywhere(store: ObjectStore, key: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="invalid object key"):
        store.put(key, b"x")
    with pytest.raises(StoreError, match="invalid object key"):
        store.get(key)
    with pytest.raises(StoreError, match="invalid object key"):
        store.download_file(key, tmp_path / "x")


def test_validate_key_accepts_result_names() -> None:
    assert validate_key("results/render_20250101_000000_0123abcd/X_Bot/front_f0001.png")
    assert validate_key("results/r/_complete.json")


def test_concurrent_creates_have_one_winner(store: ObjectStore) -> None:
    winners: list[int] = []
    barrier = threading.Barrier(8)

    def race(index: int) -> None:
        barrier.wait()
        if store.put_if_absent("contended.json", str(index).encode()) is not None:
            winners.append(index)

    threads = [threading.Thread(target=race, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    stored = store.get("contended.json")
    assert stored is not None and stored.data == str(winners[0]).encode()


def test_concurrent_compare_and_swap_loses_no_update(store: ObjectStore) -> None:
    store.put("counter.json", b"0")

    def increment(times: int) -> None:
        for _ in range(times):
            while True:
                current = store.get("counter.json")
                assert current is not None
                if store.put_if_match("counter.json", str(int(current.data) + 1).encode(), current.etag) is not None:
                    break

    threads = [threading.Thread(target=increment, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = store.get("counter.json")
    assert stored is not None and int(stored.data) == 40


def test_local_store_leaves_no_temp_files_visible(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    store.put("a/b.json", b"x")
    (tmp_path / "s" / "a" / ".tmp-leftover").write_bytes(b"partial")
    assert store.list("") == ["a/b.json"]


def test_open_store_understands_urls_and_paths(tmp_path: Path) -> None:
    settings = load_settings({"s3_endpoint": "http://127.0.0.1:9"}, environ={}, config_path=None)
    assert isinstance(open_store((tmp_path / "a").as_uri(), settings), LocalStore)
    assert isinstance(open_store(str(tmp_path / "b"), settings), LocalStore)
    s3 = open_store("s3://my-bucket/some/prefix", settings)
    assert isinstance(s3, S3Store) and s3.bucket == "my-bucket" and s3.prefix == "some/prefix"
    for bad in ("s3://Bad_Bucket/x", "http://example.com/x", "s3://b/../x", ""):
        with pytest.raises(StoreError):
            open_store(bad, settings)


def test_s3_errors_name_operation_and_key_but_never_credentials() -> None:
    secret = "very-secret-key-0123456789"
    store = S3Store("bucket", "p", endpoint="http://127.0.0.1:9", retry_seconds=0.5, access_key="AKIAEXAMPLE", secret_key=secret)
    with pytest.raises(StoreError) as caught:
        store.get("jobs/status/x.json")
    message = str(caught.value)
    assert message.startswith("get s3://bucket/p/jobs/status/x.json")
    assert "unreachable" in message
    assert secret not in message and "AKIAEXAMPLE" not in message
