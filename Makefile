# `make run` and `make test` do all their own set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test bench install install-test catalogs clean

run: install catalogs
	$(BIN)/intake db upgrade
	$(BIN)/intake serve

test: install-test catalogs
	$(BIN)/pytest

bench: install-test
	$(BIN)/python -m bench

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Compiled catalogs are build output (not committed); the app also reads .po files
# directly when no fresh .mo is there.
catalogs: install
	@if ls locales/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile --domain messages --directory locales --statistics 2>&1 | tail -n +1; \
	fi

clean:
	rm -rf $(VENV) var build *.egg-info
	find locales -name '*.mo' -delete
