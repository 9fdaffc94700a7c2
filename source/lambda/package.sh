#!/usr/bin/env bash
# Build the Lambda deployment zip reproducibly: the same sources (and the same botocore model) give
# the same bytes. Usage: package.sh [OUTPUT_ZIP]   (default: build/sample-rds-lambda-s3vector.zip)
#
# The zip holds lambda_function.py, the s3vl_lambda package (with its contract.json) and botocore's s3vectors service model
# under sdk-models/ (AWS_DATA_PATH layout, uncompressed .json so that any botocore can read it).
# boto3/botocore themselves come from the Lambda runtime; orjson is vendored from pinned wheels
# (vendor-requirements.txt): see docs/lambda-packaging.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
output="${1:-$here/build/sample-rds-lambda-s3vector.zip}"
case "$output" in /*) ;; *) output="$PWD/$output" ;; esac
python="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

cp "$here/src/lambda_function.py" "$stage/"
# The package's modules and its contract (contract.json, read at import time).
(cd "$here/src" && find s3vl_lambda \( -name '*.py' -o -name '*.json' \) -print0 | xargs -0 -I{} cp --parents {} "$stage/")

# The s3vectors model of the botocore this project pins (pyproject.toml), every file of it.
"$python" - "$stage/sdk-models" <<'PY'
import gzip, os, shutil, sys
import botocore

source = os.path.join(os.path.dirname(botocore.__file__), "data", "s3vectors")
target = os.path.join(sys.argv[1], "s3vectors")
for root, _, files in os.walk(source):
    for name in files:
        relative = os.path.relpath(os.path.join(root, name), source)
        destination = os.path.join(target, relative)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        if name.endswith(".gz"):
            with gzip.open(os.path.join(root, name), "rb") as src, open(destination[:-3], "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfile(os.path.join(root, name), destination)
PY

# Vendored wheels (vendor-requirements.txt): the template's runtime and the interpreter that runs the local
# Lambda service. Downloads are kept in build/wheels and checked against the pinned hashes.
wheels="$here/build/wheels"
local_abi="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
for version in $(printf "%s\n" 3.13 "$local_abi" | sort -u); do
    abi="cp${version/./}"
    "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --require-hashes -r "$here/vendor-requirements.txt" --platform manylinux2014_x86_64 \
        --implementation cp --python-version "$version" --abi "$abi" -d "$wheels"
    for wheel in "$wheels"/*-"$abi"-"$abi"-manylinux*_x86_64*.whl; do
        "$python" -m zipfile -e "$wheel" "$stage"
    done
done
rm -rf "$stage"/*.dist-info/RECORD

# Fixed metadata: one timestamp, plain permissions, sorted entries, no extra attributes (-X).
find "$stage" -type d -exec chmod 755 {} +
find "$stage" -type f -exec chmod 644 {} +
find "$stage" -exec touch -h -d '2000-01-01 00:00:00 UTC' {} +
mkdir -p "$(dirname "$output")"
# Build beside the output and rename into place: a reader (the local stack, a deploy) never sees a
# missing or half-written zip.
partial="$(mktemp "$(dirname "$output")/.package.XXXXXX")"
trap 'rm -rf "$stage" "$partial"' EXIT
rm -f "$partial"
(cd "$stage" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | TZ=UTC zip -q -X -D -9 "$partial" -@)
chmod 644 "$partial"
mv -f "$partial" "$output"
echo "$output ($(wc -c <"$output") bytes)"
