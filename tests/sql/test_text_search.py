"""search_text, set_index_mode, configure_text_search and remove_text_search (77_text.sql) through the
whole local chain (SQL -> shim -> Lambda service -> zip -> emulator), compared with boto3 QueryVectors
sent straight to the emulator with the same queryTexts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from .conftest import SqlStack, create_index, raises_sqlstate

WORDS = [
    *("red", "blue", "green", "black", "white", "running", "trail", "walking", "shoes", "boots"),
    *("jacket", "shirt", "light", "warm", "waterproof", "cotton", "leather", "soft", "fast"),
    *("comfortable", "classic", "sport", "summer", "winter"),
]
N, DIM = 400, 8
# No registered function answers here: a check that raises before invoking is the only way to 22023.
NOWHERE = "arn:aws:lambda:us-east-1:000000000000:function:s3vl-text-nowhere"


def _documents(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [
        {
            "description": " ".join(rng.choice(WORDS, size=int(rng.integers(3, 9)))),
            "title": " ".join(rng.choice(WORDS, size=2)),
            "category": ("shoes", "clothing")[i % 2],
            "price": int(rng.integers(5, 200)),
        }
        for i in range(N)
    ]


@pytest.fixture(scope="module")
def products(sql_stack: SqlStack) -> Iterator[dict[str, Any]]:
    """Index text-products, made ENHANCED and full-text searchable on description and title from SQL,
    and text-classic, left CLASSIC."""
    client = sql_stack.s3vectors()
    rng = np.random.default_rng(16)
    keys = [f"p{i:04d}" for i in range(N)]
    meta = _documents(rng)
    data = rng.standard_normal((N, DIM)).astype(np.float32)
    arns = {
        name: create_index(client, name, DIM, "cosine", keys, data, meta)
        for name in ("text-products", "text-classic")
    }
    with sql_stack.connect() as conn:
        for name, arn in arns.items():
            conn.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
        # New indexes are ENHANCED on the emulator (as in buckets created since 2026-09-30).
        assert conn.execute("SELECT s3vl.set_index_mode('text-classic', 'CLASSIC')").fetchone() == (
            "CLASSIC",
        )
        conn.execute("SELECT s3vl.set_index_mode('text-products', 'enhanced')")
        for key in ("description", "title"):
            conn.execute("SELECT s3vl.configure_text_search('text-products', %s)", (key,))
        # 400 vectors backfill in milliseconds at the emulator's rate; wait for ACTIVE all the same.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses = client.get_index(indexArn=arns["text-products"])["index"]["metadataConfiguration"]
            if all(c["status"] == "ACTIVE" for c in statuses["textSearchConfigurations"]):
                break
            time.sleep(0.1)
    yield {"client": client, "arn": arns["text-products"], "data": data, "keys": keys}


def _direct(
    client: Any, arn: str, top_k: int, **params: Any
) -> list[tuple[str, float, dict[str, float], Any]]:
    """boto3 QueryVectors with every page followed: (key, fused score or BM25 total, BM25 score per key,
    vector distance)."""
    rows: list[Any] = []
    token = None
    while True:
        page = client.query_vectors(
            indexArn=arn, topK=top_k, returnScores=True, **params, **({"nextToken": token} if token else {})
        )
        rows.extend(page["vectors"])
        token = page.get("nextToken")
        if not token or len(rows) >= top_k:
            break
    found = []
    for item in rows[:top_k]:
        scores = item["scores"]
        bm25 = {s["metadataKey"]: s["score"] for s in scores.get("bm25Scores", [])}
        found.append(
            (item["key"], scores.get("fused", sum(bm25.values())), bm25, scores.get("vectorDistance"))
        )
    return found


def _sql(
    conn: psycopg.Connection[Any], sql: str, params: Any
) -> list[tuple[str, float, dict[str, float], Any]]:
    return [(k, f, b, d) for k, f, b, d in conn.execute(sql, params).fetchall()]


def test_text_only_search_equals_boto3_over_several_pages(products: dict[str, Any], conn: Any) -> None:
    texts = {"description": "red running shoes"}
    expected = _direct(
        products["client"],
        products["arn"],
        250,
        queryTexts=[{"metadataKey": k, "text": v} for k, v in texts.items()],
    )
    assert len(expected) > 100  # more than one service page
    got = _sql(
        conn,
        "SELECT vector_id, fused_score, bm25_scores, vector_distance "
        "FROM s3vl.search_text('text-products', %s, top_k => 250)",
        (psycopg.types.json.Jsonb(texts),),
    )
    assert got == expected
    assert [f for _, f, _, _ in got] == sorted((f for _, f, _, _ in got), reverse=True)


def test_hybrid_search_with_filter_and_metadata_equals_boto3(products: dict[str, Any], conn: Any) -> None:
    texts = {"description": "waterproof leather boots", "title": "winter"}
    query = products["data"][7] + 0.1
    flt = {"category": "shoes"}
    expected = _direct(
        products["client"],
        products["arn"],
        40,
        queryTexts=[{"metadataKey": k, "text": v} for k, v in texts.items()],
        queryVector={"float32": query.tolist()},
        filter=flt,
    )
    rows = conn.execute(
        "SELECT vector_id, fused_score, bm25_scores, vector_distance, metadata "
        "FROM s3vl.search_text('text-products', %s, %s, 40, %s, true)",
        (psycopg.types.json.Jsonb(texts), query.astype(np.float64).tolist(), psycopg.types.json.Jsonb(flt)),
    ).fetchall()
    assert [(k, f, b, d) for k, f, b, d, _ in rows] == expected
    assert all(m["category"] == "shoes" for *_, m in rows)
    assert any(d is not None for _, _, _, d, _ in rows) and any(b for _, _, b, _, _ in rows)


BAD_INPUTS = [
    ("NULL", "query_texts"),
    ("'[\"red\"]'", "query_texts"),
    ("'{}'", "query_texts"),
    ("(SELECT jsonb_object_agg('k' || n, 'red') FROM generate_series(1, 11) n)", "query_texts"),
    ("jsonb_build_object(repeat('k', 64), 'red')", "63 characters"),
    ('\'{"description": ""}\'', "1 to 1024"),
    ("jsonb_build_object('description', repeat('a', 1025))", "1 to 1024"),
    ("'{\"description\": 3}'", "1 to 1024"),
]


@pytest.mark.parametrize(("texts", "named"), BAD_INPUTS)
def test_bad_query_texts_raise_22023_before_invoking(
    products: dict[str, Any], sql_stack: SqlStack, conn: Any, texts: str, named: str
) -> None:
    with sql_stack.configured(conn, NOWHERE):
        error = raises_sqlstate(conn, f"SELECT * FROM s3vl.search_text('text-products', {texts})")
    assert error.sqlstate == "22023", error
    assert named in str(error) and error.diag.message_hint


@pytest.mark.parametrize(
    "arguments",
    [
        "top_k => 0",
        "top_k => 10001",
        "top_k => NULL",
        "metadata_filter => '[]'",
        "return_metadata => NULL",
        "query_vector => ARRAY[1, 2]",
        "query_vector => ARRAY[0, 0, 0, 0, 0, 0, 0, 0]",
    ],
)
def test_bad_arguments_raise_22023_before_invoking(
    products: dict[str, Any], sql_stack: SqlStack, conn: Any, arguments: str
) -> None:
    sql = f"SELECT * FROM s3vl.search_text('text-products', '{{\"description\": \"red\"}}', {arguments})"
    with sql_stack.configured(conn, NOWHERE):
        error = raises_sqlstate(conn, sql)
    assert error.sqlstate == "22023", error


def test_text_query_on_classic_index_fails_with_hint(products: dict[str, Any], conn: Any) -> None:
    error = raises_sqlstate(
        conn, "SELECT * FROM s3vl.search_text('text-classic', '{\"description\": \"red\"}')"
    )
    assert error.sqlstate == "55000"
    assert "CLASSIC" in error.diag.message_primary
    assert "s3vl.set_index_mode('text-classic', 'ENHANCED')" in error.diag.message_hint


def test_index_switched_to_classic_outside_s3vl_fails_with_the_same_hint(
    products: dict[str, Any], sql_stack: SqlStack, conn: Any
) -> None:
    # The registry still says ENHANCED: the service's refusal is turned into the same error.
    client = products["client"]
    client.update_index_mode(indexArn=products["arn"], indexMode="CLASSIC")
    try:
        error = raises_sqlstate(
            conn, "SELECT * FROM s3vl.search_text('text-products', '{\"description\": \"red\"}')"
        )
    finally:
        client.update_index_mode(indexArn=products["arn"], indexMode="ENHANCED")
    assert error.sqlstate == "55000"
    assert "set_index_mode" in error.diag.message_hint


def test_registry_records_mode_and_text_keys(products: dict[str, Any], conn: Any) -> None:
    mode, text_search = conn.execute(
        "SELECT index_mode, text_search FROM s3vl.describe_indexes() WHERE index_name = 'text-products'"
    ).fetchone()
    assert mode == "ENHANCED"
    assert sorted(k["metadata_key"] for k in text_search) == ["description", "title"]
    assert {k["language"] for k in text_search} == {"en"}
    assert conn.execute(
        "SELECT index_mode FROM s3vl.describe_indexes() WHERE index_name = 'text-classic'"
    ).fetchone() == ("CLASSIC",)
    # The original's list_indexes keeps its nine columns.
    assert len(conn.execute("SELECT * FROM s3vl.list_indexes()").description) == 9


def test_remove_and_add_text_search_key(products: dict[str, Any], conn: Any) -> None:
    conn.execute("SELECT s3vl.remove_text_search('text-products', 'title')")
    (text_search,) = conn.execute(
        "SELECT text_search FROM s3vl.describe_indexes() WHERE index_name = 'text-products'"
    ).fetchone()
    assert [k["metadata_key"] for k in text_search] == ["description"]
    error = raises_sqlstate(conn, "SELECT * FROM s3vl.search_text('text-products', '{\"title\": \"red\"}')")
    assert error.sqlstate == "22023" and "title" in str(error)
    (status,) = conn.execute("SELECT s3vl.configure_text_search('text-products', 'title', 'en')").fetchone()
    assert status in ("BUILDING", "ACTIVE")
    # Configuring it again with the same language is not an error; with another it is S3 Vectors' conflict.
    (again,) = conn.execute("SELECT s3vl.configure_text_search('text-products', 'title')").fetchone()
    assert again in ("BUILDING", "ACTIVE")
    error = raises_sqlstate(conn, "SELECT s3vl.configure_text_search('text-products', 'title', 'de')")
    assert error.sqlstate == "SV001" and "CONFLICT" in str(error)


@pytest.mark.parametrize(
    ("sql", "state"),
    [
        ("SELECT s3vl.set_index_mode('text-products', 'FAST')", "22023"),
        ("SELECT s3vl.set_index_mode('text-products', NULL)", "22023"),
        ("SELECT s3vl.configure_text_search('text-products', 'description', 'xx')", "22023"),
        ("SELECT s3vl.configure_text_search('text-products', repeat('k', 64))", "22023"),
        ("SELECT s3vl.configure_text_search('text-classic', 'description')", "55000"),
        ("SELECT s3vl.remove_text_search('text-products', '')", "22023"),
        ("SELECT s3vl.set_index_mode('no-such-index', 'ENHANCED')", "42704"),
    ],
)
def test_bad_administration_arguments(
    products: dict[str, Any], sql_stack: SqlStack, conn: Any, sql: str, state: str
) -> None:
    with sql_stack.configured(conn, NOWHERE):
        error = raises_sqlstate(conn, sql)
    assert error.sqlstate == state, error
    assert error.diag.message_hint


def test_administration_is_for_s3vl_admin(products: dict[str, Any], conn: Any) -> None:
    conn.execute("SET ROLE s3vl_user")
    rows = conn.execute(
        "SELECT vector_id FROM s3vl.search_text('text-products', '{\"description\": \"red\"}')"
    )
    assert rows.fetchall()
    for sql in (
        "SELECT s3vl.set_index_mode('text-products', 'ENHANCED')",
        "SELECT s3vl.configure_text_search('text-products', 'category')",
        "SELECT s3vl.remove_text_search('text-products', 'title')",
    ):
        assert raises_sqlstate(conn, sql).sqlstate == "42501"
    conn.execute("RESET ROLE")


def test_validate_config_warns_about_a_key_still_building(sql_stack: SqlStack, conn: Any) -> None:
    # 15,000 vectors backfill for about 6 s at the test stack's 2,500 vectors/s (tests/conftest.py).
    client = sql_stack.s3vectors()
    n = 15_000
    rng = np.random.default_rng(161)
    keys = [f"b{i:05d}" for i in range(n)]
    meta = [{"description": f"item {i % 97}"} for i in range(n)]
    arn = create_index(
        client, "text-building", 2, "cosine", keys, rng.standard_normal((n, 2)).astype(np.float32), meta
    )
    client.update_index_mode(indexArn=arn, indexMode="ENHANCED")
    conn.execute("SELECT s3vl.register_index('text-building', %s)", (arn,))
    (status,) = conn.execute("SELECT s3vl.configure_text_search('text-building', 'description')").fetchone()
    assert status == "BUILDING"
    checks = {
        name: (state, detail)
        for name, state, detail, _ in conn.execute("SELECT * FROM s3vl.validate_config_checks()")
    }
    state, detail = checks["index:text-building"]
    assert state == "warn" and "BUILDING" in detail and "'description'" in detail
    warnings: list[str] = []
    conn.add_notice_handler(lambda d: warnings.append(f"{d.severity_nonlocalized}: {d.message_primary}"))
    (valid,) = conn.execute("SELECT is_valid FROM s3vl.validate_config()").fetchone()
    assert valid is True  # a warning, not a failure
    assert any(w.startswith("WARNING: index:text-building:") and "BUILDING" in w for w in warnings), warnings
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            checks = {
                name: state for name, state, *_ in conn.execute("SELECT * FROM s3vl.validate_config_checks()")
            }
            if checks["index:text-building"] == "ok":
                break
            time.sleep(0.2)
        assert checks["index:text-building"] == "ok"
    finally:
        conn.execute("SELECT s3vl.unregister_index('text-building')")
        client.delete_index(indexArn=arn)
