"""A text search key added to an index with vectors is BUILDING, refuses queries, then turns ACTIVE.

The emulator's clock: n vectors / BUILD_RATE seconds from the UpdateMetadataConfiguration request
(docs/s3vectors-emulator.md, "BUILDING and ACTIVE"); the deadline is stored, so it survives a restart.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3vl_local.s3vectors import text_status
from support.s3vectors import create_bucket_and_index

from .conftest import emulator_on

SEL = {"vectorBucketName": "building", "indexName": "docs"}
VECTORS = 50
RATE = 25.0  # vectors per second: 50 vectors take 2 s


def _status(c: Any) -> list[dict[str, Any]]:
    return c.get_index(**SEL)["index"]["metadataConfiguration"]["textSearchConfigurations"]


def _query(c: Any) -> list[str]:
    got = c.query_vectors(**SEL, topK=100, queryTexts=[{"text": "alpha", "metadataKey": "body"}])
    return sorted(v["key"] for v in got["vectors"])


def _setup(c: Any) -> None:
    create_bucket_and_index(
        c,
        SEL["vectorBucketName"],
        SEL["indexName"],
        2,
        metadataConfiguration={"textSearchConfigurations": [{"metadataKey": "title", "language": "en"}]},
    )
    c.put_vectors(
        **SEL,
        vectors=[
            {
                "key": f"k{i:02d}",
                "data": {"float32": [1.0, float(i)]},
                "metadata": {"body": "alpha" if i % 5 == 0 else "beta", "title": "t"},
            }
            for i in range(VECTORS)
        ],
    )


def test_added_key_is_building_then_active_and_the_deadline_survives_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_status, "BUILD_RATE", RATE)
    with emulator_on(tmp_path) as c:
        _setup(c)
        # A key given at CreateIndex had nothing to backfill.
        assert _status(c) == [{"metadataKey": "title", "language": "en", "status": "ACTIVE"}]
        started = time.time()
        c.update_metadata_configuration(**SEL, add={"textSearchConfigurations": [{"metadataKey": "body"}]})
        assert _status(c)[1] == {"metadataKey": "body", "status": "BUILDING"}
        with pytest.raises(ClientError) as info:
            _query(c)
        error = info.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert "BUILDING" in error["Message"] and "GetIndex" in error["Message"]
        # The ACTIVE key keeps serving while another builds.
        assert c.query_vectors(**SEL, topK=3, queryTexts=[{"text": "t", "metadataKey": "title"}])["vectors"]
    with emulator_on(tmp_path) as c:
        if time.time() < started + VECTORS / RATE - 0.5:
            assert _status(c)[1]["status"] == "BUILDING"
        while _status(c)[1]["status"] == "BUILDING":
            assert time.time() < started + VECTORS / RATE + 5, "still BUILDING well past its deadline"
            time.sleep(0.05)
        # Not before n / rate seconds (less the time the request took to reach the emulator).
        assert time.time() >= started + VECTORS / RATE - 0.2
        assert _status(c)[1] == {"metadataKey": "body", "status": "ACTIVE"}
        assert _query(c) == [f"k{i:02d}" for i in range(0, VECTORS, 5)]


def test_build_rate_setting_must_be_a_positive_number(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, rate in [("", text_status.DEFAULT_BUILD_RATE), ("500", 500.0), ("inf", float("inf"))]:
        monkeypatch.setenv(text_status.BUILD_RATE_VARIABLE, value)
        assert text_status._configured_rate() == rate
    for bad in ["0", "-1", "fast", "nan"]:
        monkeypatch.setenv(text_status.BUILD_RATE_VARIABLE, bad)
        with pytest.raises(ValueError, match=text_status.BUILD_RATE_VARIABLE):
            text_status._configured_rate()
