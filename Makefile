# KSBB Bot. `make run` and `make test` work on a fresh machine with Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PO     := $(wildcard locales/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)
KEYWORDS := -k N_ -k t -k say -k translate:2

.PHONY: run test bench bench-smoke locales locales-extract locales-update clean

run: $(VENV)/.installed-run $(MO)
	$(BIN)/ksbb db upgrade
	$(BIN)/ksbb run

test: $(VENV)/.installed-bench $(MO)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m bench.run_all --smoke

# Benchmarks (bench/README.md): full size, results kept in bench/results/ and summed up at the top of
# bench/README.md; smoke: tiny, results not kept.
bench: $(VENV)/.installed-bench $(MO)
	$(BIN)/python -m bench.run_all
	$(BIN)/python -m bench.summary --write

bench-smoke: $(VENV)/.installed-bench $(MO)
	$(BIN)/python -m bench.run_all --smoke

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "KSBB Bot needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-run

locales: $(MO)

%.mo: %.po | $(VENV)/.installed-run
	$(BIN)/pybabel compile -i $< -o $@ --statistics

locales-extract: $(VENV)/.installed-run
	$(BIN)/pybabel extract -F babel.cfg $(KEYWORDS) --no-default-keywords --no-location --sort-output --no-wrap -o locales/messages.pot bot handlers storage

locales-update: locales-extract
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --no-wrap

clean:
	rm -rf $(VENV) $(MO)
