"""With a data directory, every acknowledged write survives kill -9 and a restart."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from s3vl_local.s3vectors.server import EmulatorServer
from s3vl_local.s3vectors.wal import FILE_NAME, RecoveryError, encode_frame
from support.s3vectors import create_bucket_and_index

from .conftest import emulator_on, make_client

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
        sel = create_bucket_and_index(c, "durable", "load", 16, "euclidean")
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
    with emulator_on(tmp_path) as c:
        c.create_vector_bucket(vectorBucketName="torn")
    with open(tmp_path / FILE_NAME, "ab") as log:
        log.write(b"\x40\x00\x00\x00partial")  # a frame cut short by a crash
    with emulator_on(tmp_path) as c:
        c.create_vector_bucket(vectorBucketName="after")
    with emulator_on(tmp_path) as c:
        names = [b["vectorBucketName"] for b in c.list_vector_buckets()["vectorBuckets"]]
        assert names == ["after", "torn"]


def test_replay_restores_deletes_indexes_and_settings(tmp_path: Path) -> None:
    with emulator_on(tmp_path) as c:
        sel = create_bucket_and_index(
            c,
            "replay",
            "idx",
            2,
            metadataConfiguration={"nonFilterableMetadataKeys": ["body"]},
        )
        c.put_vectors(
            **sel, vectors=[{"key": f"k{i}", "data": {"float32": [1.0, float(i)]}} for i in range(10)]
        )
        c.delete_vectors(**sel, keys=["k0", "k5"])
        c.put_vector_bucket_policy(vectorBucketName="replay", policy='{"Version": "2012-10-17"}')
        before = c.get_index(**sel)["index"]
    with emulator_on(tmp_path) as c:
        assert c.get_index(**sel)["index"] == before
        keys = sorted(v["key"] for v in c.list_vectors(**sel)["vectors"])
        assert keys == sorted(f"k{i}" for i in range(10) if i not in (0, 5))
        assert c.get_vector_bucket_policy(vectorBucketName="replay")["policy"] == '{"Version": "2012-10-17"}'


# -- a request that could not be applied is refused before it is logged -----------------------------------
_HUGE = "1" + "0" * 400  # a JSON integer with no float64 value
_DEEP = "[" * 100_000 + "1" + "]" * 100_000


def _put(data: str = "[1,2]", metadata: str = "{}", key: str = "a") -> str:
    """A raw PutVectors body, so that values botocore would not send can be sent."""
    vector = '{"key":"' + key + '","data":{"float32":' + data + '},"metadata":' + metadata + "}"
    return '{"vectorBucketName":"refuse","indexName":"idx","vectors":[' + vector + "]}"


_UNAPPLICABLE = {
    "metadata integer beyond float64": _put(metadata='{"n":' + _HUGE + "}"),
    "same, in a list": _put(metadata='{"n":[1,' + _HUGE + "]}"),
    "vector integer beyond float32": _put(data="[" + _HUGE + ",2]"),
    "metadata NaN literal": _put(metadata='{"n":NaN}'),
    "metadata Infinity literal": _put(metadata='{"n":-Infinity}'),
    "metadata float beyond float64": _put(metadata='{"n":1e400}'),
    "lone surrogate in metadata": _put(metadata='{"n":"\\ud800"}'),
    "lone surrogate as metadata key": _put(metadata='{"\\udc00":1}'),
    "lone surrogate in the key": _put(key="a\\ud800"),
    "deeply nested metadata": _put(metadata='{"n":' + _DEEP + "}"),
}


def _post(url: str, operation: str, body: str) -> tuple[int, dict[str, Any]]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", f"/{operation}", body.encode(), {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("case", list(_UNAPPLICABLE))
def test_unapplicable_put_is_refused_before_it_is_logged(tmp_path: Path, case: str) -> None:
    with emulator_on(tmp_path) as c:
        sel = create_bucket_and_index(c, "refuse", "idx", 2, "euclidean")
        c.put_vectors(**sel, vectors=[{"key": "a", "data": {"float32": [5.0, 6.0]}, "metadata": {"n": 1}}])
        logged = (tmp_path / FILE_NAME).stat().st_size
        status, body = _post(c.meta.endpoint_url, "PutVectors", _UNAPPLICABLE[case])
        assert (status, body["__type"]) == (400, "ValidationException"), body
        assert (tmp_path / FILE_NAME).stat().st_size == logged  # no log record
        before = c.list_vectors(**sel, returnData=True, returnMetadata=True)["vectors"]
        assert before == [{"key": "a", "data": {"float32": [5.0, 6.0]}, "metadata": {"n": 1}}]
    with emulator_on(tmp_path) as c:  # and the log still replays
        after = c.list_vectors(**sel, returnData=True, returnMetadata=True)["vectors"]
        assert after == before


def test_huge_integer_metadata_from_boto3_is_a_validation_error(tmp_path: Path) -> None:
    with emulator_on(tmp_path) as c:
        sel = create_bucket_and_index(c, "refuse", "idx", 2, "euclidean")
        with pytest.raises(ClientError) as raised:
            c.put_vectors(
                **sel, vectors=[{"key": "a", "data": {"float32": [1.0, 2.0]}, "metadata": {"n": 10**400}}]
            )
        error = raised.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert "metadata key 'n'" in error["Message"] and "float64 range" in error["Message"]
        assert c.list_vectors(**sel)["vectors"] == []


# -- a log that cannot be replayed stops start-up loudly, naming the record --------------------------------
def _one_bucket_log(tmp_path: Path) -> int:
    """A data directory with one bucket and one index; returns the log's size."""
    with emulator_on(tmp_path) as c:
        create_bucket_and_index(c, "replay", "idx", 2)
    return (tmp_path / FILE_NAME).stat().st_size


def test_record_that_cannot_be_applied_stops_restart_naming_its_offset(tmp_path: Path) -> None:
    offset = _one_bucket_log(tmp_path)
    # As an earlier version logged it before failing to apply it.
    record = {
        "op": "put_vectors",
        "bucket": "replay",
        "name": "idx",
        "keys": ["a"],
        "metadata": [{"n": 10**400}],
    }
    with open(tmp_path / FILE_NAME, "ab") as f:
        f.write(encode_frame(record, np.ones((1, 2), dtype=np.float32).tobytes()))
    size = (tmp_path / FILE_NAME).stat().st_size
    with pytest.raises(RecoveryError) as raised:
        EmulatorServer(data_dir=tmp_path).start()
    message = str(raised.value)
    assert f"at byte offset {offset} (put_vectors) cannot be applied" in message
    assert f"truncate -s {offset} " in message
    assert (tmp_path / FILE_NAME).stat().st_size == size  # nothing dropped behind the user's back


@pytest.mark.parametrize(
    ("where", "damage", "problem"),
    [
        (20, b"\x00", "CRC-32 mismatch"),  # a byte inside the record
        (0, b"\x00\xff\xff\x7f", "runs past the end of the file"),  # its length field
    ],
)
def test_damaged_record_followed_by_others_stops_restart_naming_its_offset(
    tmp_path: Path, where: int, damage: bytes, problem: str
) -> None:
    offset = _one_bucket_log(tmp_path)
    with emulator_on(tmp_path) as c:
        c.put_vectors(
            vectorBucketName="replay",
            indexName="idx",
            vectors=[{"key": "a", "data": {"float32": [1.0, 0.0]}}],
        )
        c.put_vectors(
            vectorBucketName="replay",
            indexName="idx",
            vectors=[{"key": "b", "data": {"float32": [0.0, 1.0]}}],
        )
    log = bytearray((tmp_path / FILE_NAME).read_bytes())
    # Damage in the first PutVectors record, an acknowledged write with another one after it.
    log[offset + where : offset + where + len(damage)] = damage
    (tmp_path / FILE_NAME).write_bytes(log)
    with pytest.raises(RecoveryError) as raised:
        EmulatorServer(data_dir=tmp_path).start()
    assert f"frame at byte offset {offset} is damaged (" in str(raised.value)
    assert problem in str(raised.value)
    assert (tmp_path / FILE_NAME).read_bytes() == log


def test_emulator_process_exits_with_the_recovery_error(tmp_path: Path) -> None:
    offset = _one_bucket_log(tmp_path)
    with open(tmp_path / FILE_NAME, "ab") as f:
        f.write(encode_frame({"op": "delete_bucket", "name": "missing"}))
    result = subprocess.run(
        [sys.executable, "-m", "s3vl_local.s3vectors", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("s3vectors emulator: cannot start: ")
    assert f"record 3 at byte offset {offset} (delete_bucket) cannot be applied" in result.stderr


def test_zero_filled_tail_is_a_torn_write_and_dropped(tmp_path: Path) -> None:
    size = _one_bucket_log(tmp_path)
    with open(tmp_path / FILE_NAME, "ab") as log:
        log.write(bytes(4096))  # the file grew but the frame's pages never reached the disk
    with emulator_on(tmp_path) as c:
        assert (tmp_path / FILE_NAME).stat().st_size == size
        c.create_vector_bucket(vectorBucketName="after")
    with emulator_on(tmp_path) as c:
        buckets = c.list_vector_buckets()["vectorBuckets"]
        assert [b["vectorBucketName"] for b in buckets] == ["after", "replay"]


def test_bucket_policy_nested_too_deeply_is_a_validation_error(tmp_path: Path) -> None:
    with emulator_on(tmp_path) as c:
        c.create_vector_bucket(vectorBucketName="policy")
        logged = (tmp_path / FILE_NAME).stat().st_size
        with pytest.raises(ClientError) as raised:
            c.put_vector_bucket_policy(vectorBucketName="policy", policy=_DEEP)
        assert raised.value.response["Error"]["Code"] == "ValidationException"
        assert "nests too deeply" in raised.value.response["Error"]["Message"]
        assert (tmp_path / FILE_NAME).stat().st_size == logged
