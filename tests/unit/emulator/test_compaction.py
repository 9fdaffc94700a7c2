"""Log compaction into a snapshot; a crash at any step of it loses no acknowledged write."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from s3vl_local.s3vectors import snapshot, wal
from s3vl_local.s3vectors.catalog import Catalog
from s3vl_local.s3vectors.server import EmulatorServer
from s3vl_local.s3vectors.wal import RecoveryError
from support.s3vectors import create_bucket_and_index, create_float32_index

from .conftest import emulator_on, make_client

SRC = str(Path(__file__).resolve().parents[3] / "source" / "local")
SEL = {"vectorBucketName": "compact", "indexName": "idx"}
KEYS = [f"k{i:03d}" for i in range(200)]
COMPACT_OFTEN = ["--compact-min-bytes", "0"]


def _load(c: Any, rounds: int, seed: int = 3) -> None:
    """Everything a snapshot must carry: settings, tags, text search, metadata, deletes, overwrites."""
    c.create_vector_bucket(vectorBucketName="compact", tags={"team": "search"})
    c.put_vector_bucket_policy(vectorBucketName="compact", policy='{"Version": "2012-10-17"}')
    c.create_index(
        **SEL,
        dataType="float32",
        dimension=8,
        distanceMetric="cosine",
        metadataConfiguration={"nonFilterableMetadataKeys": ["body"]},
    )
    c.create_vector_bucket(vectorBucketName="gone")
    c.delete_vector_bucket(vectorBucketName="gone")
    rng = np.random.default_rng(seed)
    for r in range(rounds):
        data = rng.normal(size=(len(KEYS), 8)).astype(np.float32)
        vectors = [
            {
                "key": key,
                "data": {"float32": data[i].tolist()},
                "metadata": {"round": r, "body": f"text {i} of round {r}", "tags": ["a", str(i % 3)]},
            }
            for i, key in enumerate(KEYS)
        ]
        c.put_vectors(**SEL, vectors=vectors)
        c.delete_vectors(**SEL, keys=KEYS[r % 7 :: 7])


def _state(url: str) -> dict[str, Any]:
    c = make_client(url)
    vectors = c.list_vectors(**SEL, returnData=True, returnMetadata=True, maxResults=1000)["vectors"]
    query = c.query_vectors(
        **SEL,
        topK=20,
        queryVector={"float32": [1.0, 2.0, 0.0, 0.0, -1.0, 0.0, 0.5, 0.0]},
        filter={"tags": "1"},
        returnDistance=True,
    )["vectors"]
    return {
        "buckets": [b["vectorBucketName"] for b in c.list_vector_buckets()["vectorBuckets"]],
        "bucket": c.get_vector_bucket(vectorBucketName="compact")["vectorBucket"],
        "policy": c.get_vector_bucket_policy(vectorBucketName="compact")["policy"],
        "index": c.get_index(**SEL)["index"],
        "vectors": sorted(vectors, key=lambda v: v["key"]),
        "query": query,
    }


def test_log_stays_bounded_and_restart_restores_everything(tmp_path: Path) -> None:
    server = EmulatorServer(data_dir=tmp_path, compact_min_bytes=64 * 1024).start()
    try:
        _load(make_client(server.url), rounds=40)
        before = _state(server.url)
    finally:
        server.stop()
    snapshot_size = (tmp_path / snapshot.FILE_NAME).stat().st_size
    log_size = (tmp_path / wal.FILE_NAME).stat().st_size
    # 40 rounds of 200 vectors logged about 40 x 40 KB; compaction keeps the log within one snapshot.
    assert 0 < log_size <= max(64 * 1024, snapshot_size) + 64 * 1024
    server = EmulatorServer(data_dir=tmp_path, compact_min_bytes=64 * 1024).start()
    try:
        assert _state(server.url) == before
    finally:
        server.stop()


def test_compacting_changes_no_answer(tmp_path: Path) -> None:
    uncompacted, compacted = tmp_path / "history", tmp_path / "snapshot"
    server = EmulatorServer(data_dir=uncompacted, compact_min_bytes=None).start()
    try:
        _load(make_client(server.url), rounds=5)
        expected = _state(server.url)
    finally:
        server.stop()
    assert not (uncompacted / snapshot.FILE_NAME).exists()
    shutil.copytree(uncompacted, compacted)
    catalog = Catalog(compacted, compact_min_bytes=None)
    catalog.compact()
    catalog.close()
    assert (compacted / snapshot.FILE_NAME).exists()
    server = EmulatorServer(data_dir=compacted, compact_min_bytes=None).start()
    try:
        assert _state(server.url) == expected
    finally:
        server.stop()


def _compacted_pair(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """A directory before compaction (old snapshot + log) and the same after it, and their state."""
    before, after = tmp_path / "before", tmp_path / "after"
    server = EmulatorServer(data_dir=before, compact_min_bytes=None).start()
    try:
        c = make_client(server.url)
        _load(c, rounds=3)
        server.catalog.compact()  # type: ignore[union-attr]  # an older snapshot...
        c.delete_index(**SEL)  # ...then records that re-applying after the next snapshot would break
        c.create_index(**SEL, dataType="float32", dimension=8, distanceMetric="cosine")
        c.put_vectors(
            **SEL, vectors=[{"key": "new", "data": {"float32": [1.0] * 8}, "metadata": {"tags": "1"}}]
        )
        expected = _state(server.url)
    finally:
        server.stop()
    shutil.copytree(before, after)
    catalog = Catalog(after, compact_min_bytes=None)
    catalog.compact()
    catalog.close()
    return before, after, expected


def _recovered(directory: Path) -> dict[str, Any]:
    server = EmulatorServer(data_dir=directory, compact_min_bytes=None).start()
    try:
        return _state(server.url)
    finally:
        server.stop()


@pytest.mark.parametrize(
    "crash",
    [
        "snapshot temp file half written",
        "snapshot temp file complete, not renamed",
        "snapshot renamed, log not emptied",
        "log emptied, epoch header not written",
        "compaction finished",
    ],
)
def test_crash_at_each_step_of_compaction_loses_nothing(tmp_path: Path, crash: str) -> None:
    before, after, expected = _compacted_pair(tmp_path)
    crashed = tmp_path / "crashed"
    new_snapshot = (after / snapshot.FILE_NAME).read_bytes()
    if crash.startswith("snapshot temp file"):
        # The disk as compaction leaves it before os.replace: old snapshot, full log, a temp file.
        shutil.copytree(before, crashed)
        cut = len(new_snapshot) // 2 if "half" in crash else len(new_snapshot)
        (crashed / snapshot.TEMP_NAME).write_bytes(new_snapshot[:cut])
    elif crash == "snapshot renamed, log not emptied":
        shutil.copytree(before, crashed)
        (crashed / snapshot.FILE_NAME).write_bytes(new_snapshot)
    elif crash == "log emptied, epoch header not written":
        shutil.copytree(after, crashed)
        (crashed / wal.FILE_NAME).write_bytes(b"")
    else:
        shutil.copytree(after, crashed)
    assert _recovered(crashed) == expected
    assert not (crashed / snapshot.TEMP_NAME).exists()
    # Recovery leaves a directory that keeps working: a later write survives the next restart.
    server = EmulatorServer(data_dir=crashed, compact_min_bytes=None).start()
    try:
        make_client(server.url).delete_vectors(**SEL, keys=["new"])
    finally:
        server.stop()
    assert _recovered(crashed)["vectors"] == []


def test_damaged_snapshot_stops_restart(tmp_path: Path) -> None:
    _, after, _ = _compacted_pair(tmp_path)
    data = bytearray((after / snapshot.FILE_NAME).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (after / snapshot.FILE_NAME).write_bytes(data)
    with pytest.raises(RecoveryError, match=r"snapshot\.bin: the snapshot is damaged at byte offset"):
        Catalog(after)


def test_log_of_a_later_epoch_than_the_snapshot_stops_restart(tmp_path: Path) -> None:
    _, after, _ = _compacted_pair(tmp_path)
    (after / snapshot.FILE_NAME).unlink()  # the log follows a snapshot that is gone
    with pytest.raises(RecoveryError, match=r"wal\.log is epoch 3, which follows a snapshot of epoch 2"):
        Catalog(after)


def test_acknowledged_overwrites_survive_kill_9_during_constant_compaction(tmp_path: Path) -> None:
    process = subprocess.Popen(
        # --compact-min-bytes 0: compact whenever the log outgrows the snapshot.
        [
            sys.executable,
            "-m",
            "s3vl_local.s3vectors",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            *COMPACT_OFTEN,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip().rsplit(" ", 1)[1]
    c = make_client(url)
    create_bucket_and_index(c, "compact", SEL["indexName"], 4, "euclidean")
    acknowledged: dict[str, int] = {}
    in_flight: dict[str, int] = {}
    enough = threading.Event()

    def overwrite() -> None:
        for r in range(100_000):
            keys = KEYS[(r * 50) % len(KEYS) :][:50]
            in_flight.update(dict.fromkeys(keys, r))
            vectors = [
                {"key": k, "data": {"float32": [float(r)] * 4}, "metadata": {"round": r}} for k in keys
            ]
            try:
                c.put_vectors(**SEL, vectors=vectors)
            except (BotoCoreError, ClientError):
                return  # killed mid-request: never acknowledged
            acknowledged.update(dict.fromkeys(keys, r))
            if r == 60:
                enough.set()

    writer = threading.Thread(target=overwrite)
    try:
        writer.start()
        assert enough.wait(120)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        writer.join(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / snapshot.FILE_NAME).exists()
    with emulator_on(tmp_path) as c:
        got = c.list_vectors(**SEL, returnMetadata=True, maxResults=1000)["vectors"]
    rounds = {v["key"]: v["metadata"]["round"] for v in got}
    assert set(rounds) == set(acknowledged)
    for key, r in rounds.items():
        # The last acknowledged value, or the one that was being written when the process died.
        assert r in (acknowledged[key], in_flight[key]), key


def test_log_written_before_epochs_existed_is_replayed_then_compacted(tmp_path: Path) -> None:
    records = [
        {
            "op": "create_bucket",
            "name": "compact",
            "created": 1.0,
            "encryption": {"sseType": "AES256"},
            "tags": {},
        },
        {
            "op": "create_index",
            "bucket": "compact",
            "name": "idx",
            "created": 2.0,
            "dimension": 2,
            "metric": "euclidean",
            "metadata_configuration": {},
            "encryption": {"sseType": "AES256"},
            "mode": "ENHANCED",
            "tags": {},
        },
    ]
    put = {
        "op": "put_vectors",
        "bucket": "compact",
        "name": "idx",
        "keys": ["a", "b"],
        "metadata": [None, {"n": 1}],
    }
    rows = np.array([[1, 2], [3, 4]], dtype=np.float32).tobytes()
    # The frames as the log had them before it had an epoch record.
    (tmp_path / wal.FILE_NAME).write_bytes(
        b"".join(wal.encode_frame(r) for r in records) + wal.encode_frame(put, rows)
    )
    catalog = Catalog(tmp_path, compact_min_bytes=None)
    assert catalog.index("compact", "idx").store.keys == ["a", "b"]
    catalog.compact()
    catalog.close()
    with emulator_on(tmp_path) as c:
        got = c.list_vectors(**SEL, returnData=True, returnMetadata=True)["vectors"]
    assert got == [
        {"key": "a", "data": {"float32": [1.0, 2.0]}, "metadata": {}},
        {"key": "b", "data": {"float32": [3.0, 4.0]}, "metadata": {"n": 1}},
    ]


def test_concurrent_writes_and_queries_during_constant_compaction(tmp_path: Path) -> None:
    server = EmulatorServer(data_dir=tmp_path, compact_min_bytes=0).start()
    expected: dict[tuple[str, str], float] = {}
    failures: list[BaseException] = []
    try:
        c = make_client(server.url)
        c.create_vector_bucket(vectorBucketName="compact")
        names = ["idx-0", "idx-1", "idx-2"]
        for name in names:
            create_float32_index(c, "compact", name, 4, "euclidean")

        def write(name: str) -> None:
            client = make_client(server.url)
            try:
                for r in range(40):
                    keys = KEYS[(r * 20) % len(KEYS) :][:20]
                    vectors = [{"key": k, "data": {"float32": [float(r)] * 4}} for k in keys]
                    client.put_vectors(vectorBucketName="compact", indexName=name, vectors=vectors)
                    expected.update({(name, k): float(r) for k in keys})
                    if r % 10 == 9:  # an index setting too, so control records meet compaction as well
                        client.update_index_mode(
                            vectorBucketName="compact", indexName=name, indexMode="ENHANCED"
                        )
            except BaseException as e:  # reported by the main thread
                failures.append(e)

        def query() -> None:
            client = make_client(server.url)
            try:
                for _ in range(60):
                    client.query_vectors(
                        vectorBucketName="compact",
                        indexName="idx-0",
                        topK=5,
                        queryVector={"float32": [1.0] * 4},
                    )
            except BaseException as e:
                failures.append(e)

        threads = [threading.Thread(target=write, args=(n,)) for n in names] + [
            threading.Thread(target=query)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not failures, failures
        assert not any(t.is_alive() for t in threads)
    finally:
        server.stop()
    assert (tmp_path / snapshot.FILE_NAME).exists()
    server = EmulatorServer(data_dir=tmp_path, compact_min_bytes=None).start()
    try:
        c = make_client(server.url)
        got = {
            (name, v["key"]): v["data"]["float32"][0]
            for name in ("idx-0", "idx-1", "idx-2")
            for v in c.list_vectors(
                vectorBucketName="compact", indexName=name, returnData=True, maxResults=1000
            )["vectors"]
        }
    finally:
        server.stop()
    assert got == expected
