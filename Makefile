# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: install run test lint format index eval bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

index: install
	$(PY) -m coach build-index

# Builds the index if it is missing or stale, then starts the chat app.
run: install
	$(PY) -m coach build-index --if-needed
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

eval: install
	$(PY) -m coach eval ../shared/eval/dev.jsonl

bench: install
	$(PY) -m coach bench

clean:
	rm -rf $(VENV) index/*.* index/bm25 data .pytest_cache
