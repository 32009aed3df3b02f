# Pose Factory: the README's commands. `make setup` is idempotent and quick when nothing changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
# `pose-factory qa` runs MediaPipe in its own venv: it needs numpy<2 and protobuf<5 (see qa-requirements.txt).
QA_VENV := .venv-qa
QA_STAMP := $(QA_VENV)/.setup-stamp
DEMO_OUT ?= out/demo

.PHONY: setup qa-setup test lint typecheck demo bench extension clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[blender,test]'
	@touch $(STAMP)

qa-setup: $(QA_STAMP)

# No pip inside .venv-qa (the main venv's pip installs into it) and --no-deps: about 380 MB instead of 1 GB.
$(QA_STAMP): qa-requirements.txt | $(STAMP)
	@test -x $(QA_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(QA_VENV)
	$(BIN)/python -m pip --python $(QA_VENV)/bin/python install --quiet --no-deps -r qa-requirements.txt
	@$(QA_VENV)/bin/python -c "import mediapipe; mediapipe.solutions.pose.Pose(static_image_mode=True).close()" \
		2>$(QA_VENV)/check.log || { cat $(QA_VENV)/check.log; exit 1; }
	@touch $(QA_STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

test: setup qa-setup lint typecheck
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
