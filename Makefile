# Two set-up commands on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/lovelorn demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q -rs

lint: $(BIN)/.installed
	$(BIN)/ruff check monitor trainer tests bench
	$(BIN)/ruff format --check monitor trainer tests bench

clean:
	rm -rf $(VENV) .lovelorn .pytest_cache
