# Two entry points (see README): `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test setup system-deps-run system-deps-test lint bench clean

run: system-deps-run $(STAMP)
	$(VENV)/bin/livevoice run

test: system-deps-test $(STAMP)
	scripts/test.sh $(VENV)

setup: system-deps-run $(STAMP)

system-deps-run:
	scripts/system-deps.sh run

system-deps-test:
	scripts/system-deps.sh test

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check livevoice tests bench
	$(VENV)/bin/ruff format --check livevoice tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(VENV)/bin/python bench/asr.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
