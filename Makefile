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

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install install-test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamps make installs idempotent: pip runs again only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[chat,lab]'
	touch $@

$(VENV)/.installed-serve: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[chat,lab,serve]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-serve

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The demo bot answers questions about chatforge itself; Ctrl-C stops the server.
run: $(VENV)/.installed-serve
	@test -f $(DEMO_BOT)/chatforge.yaml || $(VENV)/bin/chatforge init $(DEMO_BOT) --profile assistant
	$(VENV)/bin/chatforge ingest docs README.md --bot $(DEMO_BOT)
	@exec $(VENV)/bin/chatforge serve --bot $(DEMO_BOT)

# The browser tests drive Debian's chromium; Playwright never downloads one.
test: install-test
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

bench: install-test
	$(PIP) install --quiet -e '.[bench]'
	$(PY) bench/ingest.py
	$(PY) bench/search.py
	$(PY) bench/retrieval.py
	$(PY) bench/serve.py
	$(PY) bench/finetune.py
	cd bench && ../$(PY) answers.py

clean:
	rm -rf $(VENV) $(DEMO_BOT) .pytest_cache .ruff_cache
