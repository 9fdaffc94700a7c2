#!/usr/bin/env bash
# `make demo`: the whole walkthrough on the local stack, with the real psql and the real AWS CLI.
# Run from the repository root. Safe to run again: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
# Where the stack keeps its state; `make up` and s3vl-local read the same variable.
export S3VL_STATE_DIR=${S3VL_STATE_DIR:-.local}
START_NS=$(date +%s%N)
STEP=0

step() { STEP=$((STEP + 1)); printf '\n\033[1m[%d] %s\033[0m\n' "$STEP" "$*"; }
fail() { printf '\ndemo failed at step %d: %s\n' "$STEP" "$*" >&2; exit 1; }
trap 'fail "command exited with status $? (see the output above)"' ERR

step "Install what is missing (PostgreSQL 15 with PL/Python, the Python environment)"
source/local/install-system-packages.sh
make --no-print-directory setup
export PATH="$ROOT/.venv/bin:$PATH"

step "Start the local stack (PostgreSQL + aws_lambda shim, Lambda service, S3 Vectors emulator)"
make --no-print-directory up
# shellcheck disable=SC1091
source "$S3VL_STATE_DIR/stack.env"
echo "PostgreSQL on $PGHOST:$PGPORT, S3 Vectors at $AWS_ENDPOINT_URL_S3VECTORS, Lambda at $AWS_ENDPOINT_URL_LAMBDA"

step "Create the vector bucket and the 5-dimension cosine index (AWS CLI)"
BUCKET=${S3VL_S3_INDEX_ARN#*:bucket/}
BUCKET=${BUCKET%%/*}
INDEX=${S3VL_S3_INDEX_ARN##*/index/}
if ! aws s3vectors get-vector-bucket --vector-bucket-name "$BUCKET" >/dev/null 2>&1; then
  aws s3vectors create-vector-bucket --vector-bucket-name "$BUCKET"
fi
if ! aws s3vectors get-index --vector-bucket-name "$BUCKET" --index-name "$INDEX" >/dev/null 2>&1; then
  aws s3vectors create-index --vector-bucket-name "$BUCKET" --index-name "$INDEX" \
    --data-type float32 --dimension 5 --distance-metric cosine
fi
aws s3vectors get-index --index-arn "$S3VL_S3_INDEX_ARN" \
  --query 'index.[indexName,dimension,distanceMetric]' --output text

step "Load sample-data/sample-vectors.json (aws s3vectors put-vectors)"
aws s3vectors put-vectors --index-arn "$S3VL_S3_INDEX_ARN" --vectors file://sample-data/sample-vectors.json
aws s3vectors list-vectors --index-arn "$S3VL_S3_INDEX_ARN" --max-results 5 --output table

step "Build the Lambda package and deploy it (aws lambda update-function-code)"
(cd source/lambda && ./package.sh)
aws lambda update-function-code --function-name s3vl-vector-query \
  --zip-file fileb://source/lambda/build/sample-rds-lambda-s3vector.zip \
  --query '[FunctionName,CodeSize,LastUpdateStatus]' --output text
aws lambda get-function --function-name s3vl-vector-query \
  --query 'Configuration.[FunctionName,LastModified,CodeSize,State,LastUpdateStatus]' --output text

step "Install the s3vl schema (psql, \\i install.sql)"
(cd source/sql && psql -X -q -v ON_ERROR_STOP=1 -c '\i install.sql')

step "Configure, register and query from SQL (the walkthrough's steps 3, 5 and 6)"
psql -X -v ON_ERROR_STOP=1 -f source/local/demo/walkthrough.sql

elapsed_ms=$((($(date +%s%N) - START_NS) / 1000000))
printf '\nDemo finished in %d.%03d s.' $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
# git writes .git/description once, at clone time: its age is the time since `git clone`.
if [ -f .git/description ]; then
  printf ' Time since git clone: %d s.' $(($(date +%s) - $(stat -c %Y .git/description)))
fi
printf '\nThe stack is still running: `source %s/stack.env`, then use psql or aws.\n' "$S3VL_STATE_DIR"
echo "'make down' stops it, 'make clean' removes its data."
