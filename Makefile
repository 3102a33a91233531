# `make run` and `make test` do all their own set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test bench bench-caselist profile install install-test widget catalogs model wheel clean

run: install catalogs model
	$(BIN)/intake db upgrade
	$(BIN)/intake serve

test: install-test widget catalogs model
	$(BIN)/pytest

bench: install-test
	$(BIN)/python -m bench

bench-caselist: install-test
	$(BIN)/python -m bench caselist

# Where a turn's time goes under the benchmark's load: a py-spy flame graph in var/profile/.
profile: install-test
	$(BIN)/python -m pip install --quiet py-spy
	$(BIN)/python -m bench.profile

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

# The rasa-webchat widget from npm, for tests/test_rasa_webchat_browser.py only (not
# committed: node_modules is in .gitignore). Installed again when node_modules is missing
# or older than the lock file. Without npm that test is skipped, except with CI=true.
WIDGET = tests/rasa_webchat
widget: $(WIDGET)/node_modules/.installed

$(WIDGET)/node_modules/.installed: $(WIDGET)/package.json $(WIDGET)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		echo "npm ci --prefix $(WIDGET)"; \
		npm ci --prefix $(WIDGET) --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	elif [ "$$CI" = true ]; then \
		echo "npm is missing: CI must install it (apt-get install npm)" >&2; exit 1; \
	else \
		echo "npm is missing: tests/test_rasa_webchat_browser.py will be skipped" >&2; \
	fi

# The embedded NLU model is build output (var/ is not committed): trained again when the
# training data is newer. The server and `intake nlu parse` also train it when missing.
NLU_MODEL = var/nlu/model.npz
model: $(NLU_MODEL)

$(NLU_MODEL): $(wildcard nlu/data/*/*.yml) | $(VENV)/.installed
	$(BIN)/intake nlu train

# Compiled catalogs are build output (not committed); the app also reads .po files
# directly when no fresh .mo is there.
catalogs: install
	@if ls locales/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile --domain messages --directory locales --statistics 2>&1 | tail -n +1; \
	fi
	@if ls locales/*/LC_MESSAGES/backoffice.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile --domain backoffice --directory locales --statistics 2>&1 | tail -n +1; \
	fi

# A wheel to install elsewhere (`pip install dist/intake_bot-*.whl`): flows and compiled
# catalogs inside (build_hooks.py); its data goes to INTAKE_DATA_DIR, default ./var.
wheel: | $(BIN)/python
	$(BIN)/python -m pip wheel --no-deps --wheel-dir dist .

clean:
	rm -rf $(VENV) var build dist *.egg-info $(WIDGET)/node_modules
	find locales -name '*.mo' -delete
