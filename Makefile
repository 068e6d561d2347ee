# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_BOT ?= demo-bot
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# llama.cpp is compiled for this CPU, but without AMX: many VMs report AMX yet trap its
# instructions (SIGILL). Explicit -mno-amx-* flags win over -march=native.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CMAKE_ARGS ?= -DGGML_NATIVE=ON -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'

.PHONY: run test install install-test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamps make installs idempotent: pip runs again only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[chat,lab]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	@test -f $(DEMO_BOT)/chatforge.yaml || $(VENV)/bin/chatforge init $(DEMO_BOT) --profile assistant
	$(VENV)/bin/chatforge ingest docs README.md --bot $(DEMO_BOT)
	$(VENV)/bin/chatforge search --bot $(DEMO_BOT) --interactive

test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

bench: install-test
	$(PIP) install --quiet -e '.[bench]'
	$(PY) bench/ingest.py
	$(PY) bench/search.py

clean:
	rm -rf $(VENV) $(DEMO_BOT) .pytest_cache .ruff_cache
