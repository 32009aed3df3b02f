# Pose Factory: the README's commands. `make setup` is idempotent and quick when nothing changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
DEMO_OUT ?= out/demo

.PHONY: setup test lint typecheck demo bench extension clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[blender,test]'
	@touch $(STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/python -m pytest

demo: setup
	$(BIN)/pose-factory demo --out $(DEMO_OUT)

bench: setup
	$(BIN)/python benchmarks/render_throughput.py
	$(BIN)/python benchmarks/queue_throughput.py

extension: setup
	$(BIN)/python build.py

clean:
	rm -rf build dist out .pytest_cache .mypy_cache .ruff_cache
