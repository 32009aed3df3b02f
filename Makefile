# Pose Factory: the README's commands. `make setup` is idempotent and quick when nothing changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
# `pose-factory qa` runs MediaPipe in its own venv: it needs numpy<2 and protobuf<5 (see qa-requirements.txt).
QA_VENV := .venv-qa
QA_STAMP := $(QA_VENV)/.setup-stamp
# Generated people come from the Anny body model, which needs PyTorch: its own venv too (characters-requirements.txt).
CHARACTERS_VENV := .venv-anny
CHARACTERS_STAMP := $(CHARACTERS_VENV)/.setup-stamp
DEMO_OUT ?= out/demo

.PHONY: setup qa-setup characters-setup test lint typecheck demo bench extension wheels clean

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

characters-setup: $(CHARACTERS_STAMP)

# Anny parses the MakeHuman assets into a cache (~/.cache/anny, or $$ANNY_CACHE_DIR) on first use: 1-2 minutes and a
# few GB of RAM once, so it is built here rather than in the middle of a test or a render.
$(CHARACTERS_STAMP): characters-requirements.txt | $(STAMP)
	@test -x $(CHARACTERS_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(CHARACTERS_VENV)
	$(BIN)/python -m pip --python $(CHARACTERS_VENV)/bin/python install --quiet --no-deps -r characters-requirements.txt
	@echo "Building the Anny body model's cache (1-2 minutes the first time) ..."
	@$(CHARACTERS_VENV)/bin/python -W ignore -c "import torch, anny; anny.Anny(rig='mixamo', phenotypes='all')" \
		>$(CHARACTERS_VENV)/check.log 2>&1 || { cat $(CHARACTERS_VENV)/check.log; exit 1; }
	@touch $(CHARACTERS_STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

test: setup qa-setup characters-setup lint typecheck
	$(BIN)/python -m pytest

demo: setup characters-setup
	$(BIN)/pose-factory demo --out $(DEMO_OUT)

bench: setup
	$(BIN)/python benchmarks/render_throughput.py
	$(BIN)/python benchmarks/queue_throughput.py

extension: setup
	$(BIN)/python build.py

# boto3, PyYAML and Pillow for Blender's own Python, so `blender --background --python headless/agent.py` runs from
# this checkout (headless/_bootstrap.py adds build/blender-site). Needs any Python 3 with pip, not the venv.
WHEELS_PYTHON ?= python3
wheels:
	$(WHEELS_PYTHON) build.py --blender-site

clean:
	rm -rf build dist out .pytest_cache .mypy_cache .ruff_cache
