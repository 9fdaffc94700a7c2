# s3vl: every target here is real; `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help setup test lint package clean demo bench

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the project with its dev tools (quick when nothing changed)

test: setup package ## run the whole suite
	$(BIN)/python -m pytest

lint: setup ## ruff, and mypy --strict on the Lambda package
	$(BIN)/ruff check .
	$(BIN)/ruff format --check source tests benchmarks
	cd source/lambda/src && ../../../$(BIN)/mypy --strict .

package: ## build source/lambda/build/sample-rds-lambda-s3vector.zip
	source/lambda/package.sh

demo: setup ## run the whole walkthrough on the local stack (psql + AWS CLI), leaving the stack up
	source/local/demo/demo.sh

bench: setup package ## run every benchmark and print one table of ratios against same-run baselines
	$(BIN)/python benchmarks/run_all.py

clean: ## remove the local stack's state and build output
	rm -rf .local source/lambda/build
