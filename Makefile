# s3vl: every target here is real; `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins an older boto3 than the project: it gets its own venv; the stamp names the version.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# The local stack's state (make up/down, make demo); s3vl-local reads the same variable.
S3VL_STATE_DIR ?= .local
# none (no delay) or aws: delays and rate limits as on AWS (docs/local-stack.md, "Latency profiles").
S3VL_LATENCY_PROFILE ?= none
CFN_TEMPLATE := deployment/cloudformation/template.yaml
# Regions with S3 Vectors, so the lint covers regional differences in resource and runtime support.
CFN_LINT_REGIONS := us-east-1 us-east-2 us-west-2 eu-central-1 eu-west-1 ap-southeast-2 ap-northeast-1

.PHONY: help setup test lint package clean demo bench up down

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the project with its dev tools (quick when nothing changed)

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@rm -f $(CHECKOV_VENV)/.installed-*
	@touch $@

test: setup package ## run the whole suite
	$(BIN)/python -m pytest

lint: setup $(CHECKOV_STAMP) ## ruff, mypy --strict on the Lambda package, cfn-lint and checkov on the template
	$(BIN)/ruff check .
	$(BIN)/ruff format --check source tests benchmarks
	cd source/lambda/src && ../../../$(BIN)/mypy --strict .
	$(BIN)/mypy --strict source/local/s3vl_local/aurora_shim/aws_lambda_client.py
	$(BIN)/cfn-lint --regions $(CFN_LINT_REGIONS) -- $(CFN_TEMPLATE)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f $(CFN_TEMPLATE)

package: ## build source/lambda/build/sample-rds-lambda-s3vector.zip
	source/lambda/package.sh

up: setup package ## start the local stack (PostgreSQL + shim, S3 Vectors emulator, Lambda service); writes .local/stack.env
	$(BIN)/s3vl-local up --state-dir $(S3VL_STATE_DIR) --latency-profile $(S3VL_LATENCY_PROFILE)

down: ## stop every process of the local stack
	@if [ -x $(BIN)/s3vl-local ]; then $(BIN)/s3vl-local down --state-dir $(S3VL_STATE_DIR); fi

demo: setup ## run the whole walkthrough on the local stack (psql + AWS CLI), leaving the stack up
	source/local/demo/demo.sh

bench: setup package ## run every benchmark and print one table of ratios against same-run baselines
	$(BIN)/python benchmarks/run_all.py

clean: ## remove the local stack's state and build output
	rm -rf .local source/lambda/build
