"""With a data directory, every acknowledged write survives kill -9 and a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError
from s3vl_local.s3vectors.server import EmulatorServer
from s3vl_local.s3vectors.wal import FILE_NAME

from .conftest import make_client

SRC = str(Path(__file__).resolve().parents[3] / "source" / "local")


def _start(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "s3vl_local.s3vectors", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("s3vectors emulator listening on http://127.0.0.1:"), line
    return process, line.rsplit(" ", 1)[1]


def test_acknowledged_vectors_survive_kill_9(tmp_path: Path) -> None:
    process, url = _start(tmp_path)
    try:
        c = make_client(url)
        c.create_vector_bucket(vectorBucketName="durable")
        sel = {"vectorBucketName": "durable", "indexName": "load"}
        c.create_index(**sel, dataType="float32", dimension=16, distanceMetric="euclidean")
        rng = np.random.default_rng(11)
        acknowledged: dict[str, tuple[list[float], dict[str, Any]]] = {}
        enough = threading.Event()

        def load() -> None:
            for batch in range(1000):
                data = rng.normal(size=(200, 16)).astype(np.float32)
                vectors = [
                    {
                        "key": f"b{batch}-{i}",
                        "data": {"float32": data[i].tolist()},
                        "metadata": {"batch": batch},
                    }
                    for i in range(200)
                ]
                try:
                    c.put_vectors(**sel, vectors=vectors)
                except (BotoCoreError, ClientError):
                    return  # the process died mid-request: this batch was never acknowledged
                for v in vectors:
                    acknowledged[v["key"]] = (v["data"]["float32"], v["metadata"])
                if batch == 10:
                    enough.set()

        loader = threading.Thread(target=load)
        loader.start()
        assert enough.wait(60)
        process.send_signal(signal.SIGKILL)  # while the loader is still sending batches
        process.wait(10)
        loader.join(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(acknowledged) >= 11 * 200

    process, url = _start(tmp_path)
    try:
        c = make_client(url)
        keys = list(acknowledged)
        for start in range(0, len(keys), 100):
            got = c.get_vectors(**sel, keys=keys[start : start + 100], returnData=True, returnMetadata=True)
            assert len(got["vectors"]) == len(keys[start : start + 100])
            for v in got["vectors"]:
                data, metadata = acknowledged[v["key"]]
                assert v["data"]["float32"] == [float(x) for x in np.asarray(data, dtype=np.float32)]
                assert v["metadata"] == metadata
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


def test_torn_log_tail_is_dropped_and_later_writes_persist(tmp_path: Path) -> None:
    server = EmulatorServer(data_dir=tmp_path).start()
    c = make_client(server.url)
    c.create_vector_bucket(vectorBucketName="torn")
    server.stop()
    with open(tmp_path / FILE_NAME, "ab") as log:
        log.write(b"\x40\x00\x00\x00partial")  # a frame cut short by a crash
    server = EmulatorServer(data_dir=tmp_path).start()
    c = make_client(server.url)
    c.create_vector_bucket(vectorBucketName="after")
    server.stop()
    server = EmulatorServer(data_dir=tmp_path).start()
    try:
        names = [
            b["vectorBucketName"] for b in make_client(server.url).list_vector_buckets()["vectorBuckets"]
        ]
        assert names == ["after", "torn"]
    finally:
        server.stop()


def test_replay_restores_deletes_indexes_and_settings(tmp_path: Path) -> None:
    server = EmulatorServer(data_dir=tmp_path).start()
    c = make_client(server.url)
    c.create_vector_bucket(vectorBucketName="replay")
    sel = {"vectorBucketName": "replay", "indexName": "idx"}
    c.create_index(
        **sel,
        dataType="float32",
        dimension=2,
        distanceMetric="cosine",
        metadataConfiguration={"nonFilterableMetadataKeys": ["body"]},
    )
    c.put_vectors(**sel, vectors=[{"key": f"k{i}", "data": {"float32": [1.0, float(i)]}} for i in range(10)])
    c.delete_vectors(**sel, keys=["k0", "k5"])
    c.put_vector_bucket_policy(vectorBucketName="replay", policy='{"Version": "2012-10-17"}')
    before = c.get_index(**sel)["index"]
    server.stop()
    server = EmulatorServer(data_dir=tmp_path).start()
    try:
        c = make_client(server.url)
        assert c.get_index(**sel)["index"] == before
        keys = sorted(v["key"] for v in c.list_vectors(**sel)["vectors"])
        assert keys == sorted(f"k{i}" for i in range(10) if i not in (0, 5))
        assert c.get_vector_bucket_policy(vectorBucketName="replay")["policy"] == '{"Version": "2012-10-17"}'
    finally:
        server.stop()
