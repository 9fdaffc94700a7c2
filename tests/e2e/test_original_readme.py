"""The original sample's README SQL, verbatim, through psql on the stack the demo left running, on the
published sample data. Its setup steps (install, configure, register 'demo-index') run first, with the
placeholder ARNs replaced by the local stack's, as its README says to take them from the stack outputs.
Every answer is checked against the numpy ground truth of ground_truth.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO, DemoStack, clean_environment
from .ground_truth import SAMPLE, cosine_ranking, sample

AWS = REPO / ".venv" / "bin" / "aws"
EXAMPLE_FUNCTION_ARN = "arn:aws:lambda:us-west-2:123456789012:function:s3vl-vector-query"
EXAMPLE_INDEX_ARN = "arn:aws:s3vectors:us-west-2:123456789012:bucket/s3vl-bucket-xyz/index/s3vl-index-5d"
INDEX_COLUMNS = [
    "index_name",
    "index_arn",
    "description",
    "bucket_name",
    "region",
    "account_id",
    "created_at",
    "updated_at",
    "is_active",
]

# The original README's blocks, verbatim, one file each: setup steps 4 to 6, then "SQL Examples".
BLOCKS = Path(__file__).with_name("original_readme")
INSTALL = (BLOCKS / "4-install.sql").read_text()
CONFIGURE = (BLOCKS / "5-configure.sql").read_text()
REGISTER = (BLOCKS / "6-register.sql").read_text()
SIMILARITY = (BLOCKS / "similarity-search.sql").read_text()
GET = (BLOCKS / "get-vectors.sql").read_text()
LIST = (BLOCKS / "list-vectors.sql").read_text()
JOIN = (BLOCKS / "join.sql").read_text()
MANAGEMENT = (BLOCKS / "configuration-and-management.sql").read_text()
# The README joins with a `products` table it does not define: odd product ids only, so that the join
# drops some of the nearest vectors.
PRODUCTS = """CREATE TABLE IF NOT EXISTS products (id integer PRIMARY KEY, product_name text NOT NULL,
    price numeric(10, 2) NOT NULL);
INSERT INTO products SELECT n, 'Product ' || n, 10 * n FROM generate_series(1, 49, 2) AS n
ON CONFLICT (id) DO NOTHING;
"""

Table = list[dict[str, str]]


def statements(block: str) -> list[str]:
    """The block's statements, each with the comment lines before it: psql runs them one by one."""
    return [part.strip() + "\n" for part in re.split(r"(?<=;)\s*\n", block) if part.strip()]


class Psql:
    """psql in CSV mode against the demo's database, one file per statement, as a reader would run it."""

    def __init__(self, stack: DemoStack, work_dir: Path) -> None:
        self.env = clean_environment(**{k: v for k, v in stack.env.items() if k.startswith("PG")})
        self.work_dir = work_dir
        self.count = 0
        self.rewrite = {
            EXAMPLE_FUNCTION_ARN: stack.env["S3VL_LAMBDA_FUNCTION_ARN"],
            EXAMPLE_INDEX_ARN: stack.env["S3VL_S3_INDEX_ARN"],
        }

    def run(self, sql: str) -> Table:
        for old, new in self.rewrite.items():
            sql = sql.replace(old, new)
        self.count += 1
        path = self.work_dir / f"statement-{self.count}.sql"
        path.write_text(sql)
        done = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--csv", "-f", str(path)],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"psql failed on:\n{sql}\n{done.stderr}"
        return list(csv.DictReader(io.StringIO(done.stdout)))

    def block(self, block: str) -> list[Table]:
        return [self.run(statement) for statement in statements(block)]


def by_score(rows: Table) -> list[tuple[float, str]]:
    """(similarity, id) best first, ties by id: the order a tie may take in SQL is not fixed."""
    return sorted(((float(r["similarity_score"]), r["vector_id"]) for r in rows), key=lambda p: (-p[0], p[1]))


@pytest.fixture(scope="module")
def psql(demo_stack: DemoStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Psql]:
    assert demo_stack.runs and demo_stack.runs[-1].returncode == 0, "the demo failed: see test_demo.py"
    yield Psql(demo_stack, tmp_path_factory.mktemp("original-readme"))


def load_sample(stack: DemoStack) -> None:
    """The original README's step 7: put-vectors of the published file, so that the index holds exactly
    the published data whatever other tests wrote into it (put-vectors overwrites by key)."""
    loaded = subprocess.run(
        [
            str(AWS),
            "s3vectors",
            "put-vectors",
            "--index-arn",
            stack.env["S3VL_S3_INDEX_ARN"],
            "--vectors",
            f"file://{SAMPLE}",
        ],
        env=clean_environment(**{k: v for k, v in stack.env.items() if k.startswith("AWS_")}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr


@pytest.fixture(scope="module")
def setup(psql: Psql, demo_stack: DemoStack) -> dict[str, list[Table]]:
    """The original README's setup steps, in order, on the demo's database and index."""
    done = {name: psql.block(block) for name, block in (("install", INSTALL), ("configure", CONFIGURE))}
    done["register"] = psql.block(REGISTER)
    load_sample(demo_stack)
    psql.run(PRODUCTS)
    return done


def test_setup_steps_run_and_answer_as_the_original(
    setup: dict[str, list[Table]], demo_stack: DemoStack
) -> None:
    [configured], [row] = setup["configure"]
    assert configured == {"configure": "t"}
    assert list(row) == ["is_valid", "lambda_arn", "aws_region", "error_message", "response_time_ms"]
    assert row["is_valid"] == "t" and row["error_message"] == "", row
    assert (
        row["lambda_arn"] == demo_stack.env["S3VL_LAMBDA_FUNCTION_ARN"] and row["aws_region"] == "us-west-2"
    )
    [registered], indexes = setup["register"]
    assert registered == {"register_index": "t"}
    assert list(indexes[0]) == INDEX_COLUMNS
    assert "demo-index" in [r["index_name"] for r in indexes]


def test_similarity_search_matches_numpy(psql: Psql, setup: object) -> None:
    plain, filtered = psql.block(SIMILARITY)
    assert list(plain[0]) == ["vector_id", "similarity_score", "distance", "metadata"]
    expected = cosine_ranking([0.1, 0.2, 0.3, 0.4, 0.5])[:10]
    assert by_score(plain) == [(pytest.approx(s, abs=2e-6), k) for k, s in expected]
    metadata = {e["key"]: e["metadata"] for e in sample()}
    for row in plain:
        assert float(row["distance"]) == pytest.approx(1 - float(row["similarity_score"]), abs=2e-6)
        assert json.loads(row["metadata"]) == metadata[row["vector_id"]]
    expected_test = cosine_ranking([0.1, 0.2, 0.3, 0.4, 0.5], category="test")[:5]
    assert [r["vector_id"] for r in filtered] == [k for k, _ in expected_test]
    assert {json.loads(r["metadata"])["category"] for r in filtered} == {"test"}


def test_get_vectors_returns_embedding_metadata_and_found(psql: Psql, setup: object) -> None:
    [rows] = psql.block(GET)
    assert list(rows[0]) == ["vector_id", "embedding", "metadata", "found"]
    stored = {e["key"]: e for e in sample()}
    assert [(r["vector_id"], r["found"]) for r in rows] == [
        ("vec_001", "t"),
        ("vec_002", "t"),
        ("vec_003", "t"),
    ]
    for row in rows:
        embedding = [float(x) for x in row["embedding"].strip("{}").split(",")]
        assert embedding == pytest.approx(stored[row["vector_id"]]["data"]["float32"], abs=1e-6)
        assert json.loads(row["metadata"]) == stored[row["vector_id"]]["metadata"]


def test_list_vectors_returns_a_page_with_its_next_token(psql: Psql, setup: object) -> None:
    [rows] = psql.block(LIST)
    assert list(rows[0]) == ["vector_id", "metadata", "response_next_token", "total_count"]
    stored = {e["key"]: e["metadata"] for e in sample()}
    assert len(rows) == 20 and len({r["vector_id"] for r in rows}) == 20
    for row in rows:
        assert json.loads(row["metadata"]) == stored[row["vector_id"]]
    # 50 vectors, 20 per page: there is a next page, and its token is on the page's rows.
    assert {r["response_next_token"] for r in rows} != {""}
    counts = {r["total_count"] for r in rows}
    assert len(counts) == 1 and int(counts.pop()) >= 20


def test_join_with_products_relies_on_return_metadata_default_true(psql: Psql, setup: object) -> None:
    [rows] = psql.block(JOIN)
    assert list(rows[0]) == ["product_name", "price", "similarity_score", "vector_id"]
    nearest = cosine_ranking([0.1, 0.2, 0.3, 0.4, 0.5])[:10]
    expected = [(s, k) for k, s in nearest if int(k[4:]) % 2 == 1]
    assert len(expected) < len(nearest), "the products table should drop some of the nearest vectors"
    assert by_score(rows) == [(pytest.approx(s, abs=2e-6), k) for s, k in expected]
    scores = [float(r["similarity_score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    for row in rows:
        number = int(row["vector_id"][4:])
        assert row["product_name"] == f"Product {number}" and float(row["price"]) == 10 * number


def test_configuration_and_management_queries(psql: Psql, setup: object, demo_stack: DemoStack) -> None:
    [config], [validated], indexes, [info] = psql.block(MANAGEMENT)
    assert list(config) == [
        "lambda_arn",
        "aws_region",
        "timeout_seconds",
        "created_at",
        "updated_at",
        "config_age_hours",
        "last_validation_status",
    ]
    assert config["lambda_arn"] == demo_stack.env["S3VL_LAMBDA_FUNCTION_ARN"]
    assert config["aws_region"] == "us-west-2" and int(config["timeout_seconds"]) > 0
    assert config["last_validation_status"] == "HEALTHY"
    assert validated["is_valid"] == "t"
    assert list(indexes[0]) == INDEX_COLUMNS
    # Active first, then by name.
    order = [(r["is_active"] != "t", r["index_name"]) for r in indexes]
    assert order == sorted(order)
    assert list(info) == INDEX_COLUMNS
    bucket = demo_stack.env["S3VL_S3_INDEX_ARN"].split(":bucket/")[1].split("/")[0]
    assert info == {
        **info,
        "index_name": "demo-index",
        "index_arn": demo_stack.env["S3VL_S3_INDEX_ARN"],
        "bucket_name": bucket,
        "region": "us-west-2",
        "account_id": "000000000000",
        "is_active": "t",
    }
