"""`make demo`'s script on a fresh state directory, run twice: it exits 0, shows every step, and its
results are the blog walkthrough's on the published sample data. Expected rankings are computed here
with numpy from sample-data/sample-vectors.json and the demo's product table, independently of s3vl.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from .conftest import REPO, DemoStack
from .ground_truth import cosine_ranking, sample

WALKTHROUGH = REPO / "source" / "local" / "demo" / "walkthrough.sql"
IDENTICAL = [-0.116703, 0.325043, 0.578032, 0.739321, -0.003246]
BLOG_QUERY = [0.23, -0.41, 0.88, 0.0, 0.03]
FILTER_QUERY = [0.1, 0.2, 0.3, 0.4, 0.5]
# The blog's join vector: vec_003's own values ('Demo Board v1', out of stock).
JOIN_QUERY = [-0.392024, 0.229378, 0.582031, 0.382919, -0.555263]
# The blog's walkthrough, step 5 and the join's vector search (walkthrough.md), verbatim.
BLOG_SQL = [
    """SELECT * FROM s3vl.query_vectors(index_name => 'test-index-5d',
    query_vector => ARRAY[0.23, -0.41, 0.88, 0.0, 0.03], top_k => 5, return_metadata => TRUE);""",
    """SELECT * FROM s3vl.get_vectors(index_name => 'test-index-5d',
    vector_ids => ARRAY['vec_001', 'vec_002', 'vec_048']);""",
    """SELECT vector_id, similarity_score, metadata FROM s3vl.query_vectors(
    query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], index_name => 'test-index-5d', top_k => 5,
    return_metadata => TRUE, metadata_filter => '{"category": "test"}'::jsonb);""",
    """FROM s3vl.query_vectors(index_name => 'test-index-5d',
        query_vector => ARRAY[-0.392024, 0.229378, 0.582031, 0.382919, -0.555263], top_k => 10)""",
    """JOIN s3vl_demo_products p ON p.vector_key = s.vector_id
WHERE p.in_stock AND p.price < 500
ORDER BY s.similarity_score DESC
LIMIT 5;""",
]
STEPS = [
    "Install what is missing",
    "Start the local stack",
    "Create the vector bucket and the 5-dimension cosine index",
    "Load sample-data/sample-vectors.json",
    "Build the Lambda package and deploy it",
    "Install the s3vl schema",
    "Configure, register and query from SQL",
]


def psql_table(output: str, heading: str, first_column: str | None = None) -> list[dict[str, str]]:
    """The first aligned psql table printed after the line containing `heading` (whose first column
    is `first_column`, when given)."""
    after = output.split(heading, 1)[1].splitlines()
    for start, line in enumerate(after):
        if start == 0 or not re.fullmatch(r"-+(\+-+)*", line.strip()):
            continue
        names = [name.strip() for name in after[start - 1].split("|")]
        if first_column is None or names[0] == first_column:
            break
    else:
        raise AssertionError(f"no table after {heading!r} in:\n{output[-4000:]}")
    rows = []
    for line in after[start + 1 :]:
        if not line.strip() or line.startswith("("):
            break
        rows.append(dict(zip(names, (cell.strip() for cell in line.split("|")), strict=True)))
    return rows


@pytest.fixture(scope="module")
def demo(demo_stack: DemoStack) -> DemoStack:
    for number, run in enumerate(demo_stack.runs, start=1):
        assert run.returncode == 0, f"demo run {number} exited {run.returncode}:\n{run.stdout[-6000:]}"
    assert len(demo_stack.runs) == 2
    return demo_stack


def test_demo_shows_every_step_and_finishes_twice(demo: DemoStack) -> None:
    for run in demo.runs:
        shown = re.findall(r"\[(\d+)\] ([^\n\x1b]+)", run.stdout)
        assert [int(n) for n, _ in shown] == list(range(1, len(STEPS) + 1))
        for (_, title), expected in zip(shown, STEPS, strict=True):
            assert title.startswith(expected)
        assert re.search(r"Demo finished in \d+\.\d{3} s\.", run.stdout)
        assert f"source {demo.state_dir}/stack.env" in run.stdout
        assert "demo failed" not in run.stdout


def test_walkthrough_runs_the_blogs_queries_verbatim() -> None:
    text = WALKTHROUGH.read_text()
    missing = [sql for sql in BLOG_SQL if sql not in text]
    assert not missing, f"source/local/demo/walkthrough.sql lacks the blog's {missing}"


def test_validate_config_reports_a_valid_configuration(demo: DemoStack) -> None:
    [row] = psql_table(demo.runs[-1].stdout, "== Step 3", first_column="is_valid")
    assert row["is_valid"] == "t", row
    assert row["lambda_arn"] == demo.env["S3VL_LAMBDA_FUNCTION_ARN"]
    assert row["aws_region"] == "us-west-2"
    assert row["error_message"] == ""
    assert int(row["response_time_ms"]) >= 0


def test_blog_query_finds_vec_001_first(demo: DemoStack) -> None:
    rows = psql_table(demo.runs[-1].stdout, "== Step 5a")
    assert list(rows[0]) == ["vector_id", "distance", "similarity_score", "metadata"]
    expected = cosine_ranking(BLOG_QUERY)[:5]
    assert [r["vector_id"] for r in rows] == [key for key, _ in expected]
    assert rows[0]["vector_id"] == "vec_001" and float(rows[0]["similarity_score"]) > 0.9999
    stored = {e["key"]: e["metadata"] for e in sample()}
    for row, (key, similarity) in zip(rows, expected, strict=True):
        assert float(row["similarity_score"]) == pytest.approx(similarity, abs=2e-6)
        assert float(row["distance"]) == pytest.approx(1 - similarity, abs=2e-6)
        assert json.loads(row["metadata"]) == stored[key]


def test_identical_vector_scores_one_for_its_three_copies(demo: DemoStack) -> None:
    rows = psql_table(demo.runs[-1].stdout, "== Step 5b")
    assert [(r["vector_id"], r["similarity_score"]) for r in rows[:3]] == [
        ("vec_048", "1.000000"),
        ("vec_049", "1.000000"),
        ("vec_050", "1.000000"),
    ]
    assert all(float(r["similarity_score"]) < 0.999999 for r in rows[3:])
    expected = cosine_ranking(IDENTICAL)[: len(rows)]
    assert [r["vector_id"] for r in rows] == [key for key, _ in expected]
    for row, (_, similarity) in zip(rows, expected, strict=True):
        assert float(row["similarity_score"]) == pytest.approx(similarity, abs=2e-6)


def test_filtered_query_returns_only_category_test(demo: DemoStack) -> None:
    rows = psql_table(demo.runs[-1].stdout, "== Step 5d")
    assert len(rows) == 5
    assert {json.loads(r["metadata"])["category"] for r in rows} == {"test"}
    assert [r["vector_id"] for r in rows] == [key for key, _ in cosine_ranking(FILTER_QUERY, "test")[:5]]


def test_get_vectors_returns_the_requested_ids_in_order(demo: DemoStack) -> None:
    rows = psql_table(demo.runs[-1].stdout, "== Step 5c")
    assert [(r["vector_id"], r["found"]) for r in rows] == [
        ("vec_001", "t"),
        ("vec_002", "t"),
        ("vec_048", "t"),
    ]
    stored = {e["key"]: e["data"]["float32"] for e in sample()}
    for row in rows:
        values = [float(v) for v in row["embedding"].strip("{}").split(",")]
        assert values == pytest.approx(stored[row["vector_id"]], abs=1e-6)


def test_join_returns_in_stock_products_under_500_best_first(demo: DemoStack) -> None:
    rows = psql_table(demo.runs[-1].stdout, "== Step 6")
    with demo.connect() as conn:
        products = {
            key: (in_stock, price)
            for key, in_stock, price in conn.execute(
                "SELECT vector_key, in_stock, price FROM s3vl_demo_products"
            )
        }
    assert rows, "the join returned no rows"
    for row in rows:
        in_stock, price = products[row["vector_key"]]
        assert in_stock and price < 500 and Decimal(row["price"]) == price
    scores = [float(r["similarity_score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    nearest = cosine_ranking(JOIN_QUERY)[:10]
    expected = [key for key, _ in nearest if key in products and products[key][0] and products[key][1] < 500][
        :5
    ]
    assert [r["vector_key"] for r in rows] == expected
    assert expected == ["vec_006", "vec_007"]
    # The query vector is vec_003's, nearest to itself; it is in the table but out of stock.
    assert nearest[0] == ("vec_003", pytest.approx(1.0, abs=1e-6)) and products["vec_003"][0] is False
    assert "vec_003" not in [r["vector_key"] for r in rows]


def test_database_answers_the_walkthrough_queries_after_the_demo(demo: DemoStack) -> None:
    """The stack the demo leaves running answers the same queries over psycopg."""
    with demo.connect() as conn:
        identical = conn.execute(
            "SELECT vector_id, similarity_score FROM s3vl.query_vectors("
            "index_name => 'test-index-5d', query_vector => %s::numeric[], top_k => 3)",
            (IDENTICAL,),
        ).fetchall()
        categories = conn.execute(
            "SELECT DISTINCT metadata->>'category' FROM s3vl.query_vectors("
            "query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], index_name => 'test-index-5d', top_k => 5, "
            'return_metadata => TRUE, metadata_filter => \'{"category": "test"}\'::jsonb)'
        ).fetchall()
    assert [key for key, _ in identical] == ["vec_048", "vec_049", "vec_050"]
    assert all(score == pytest.approx(1.0, abs=1e-6) for _, score in identical)
    assert categories == [("test",)]
