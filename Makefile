# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# The app listens on this machine only; set HOST=0.0.0.0 (behind a TLS proxy) to serve others.
HOST ?= 127.0.0.1

.PHONY: install run test lint format index eval bench clean clean-index clean-audit

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
	$(VENV)/bin/streamlit run app.py --server.address $(HOST) --server.port $(PORT) --server.headless true

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

# Never touches data/ (the audit log): deleting it is `make clean-audit`, on purpose.
clean:
	rm -rf $(VENV) .pytest_cache

# Deletes every index build and the vector cache: the next build embeds everything again.
clean-index:
	rm -rf index/builds index/cache index/current index/.build.lock index/*.* index/bm25

# Deletes the audit log of every conversation. Asks first.
clean-audit:
	@printf 'Delete the audit log in data/ (every recorded conversation)? [y/N] ' && read ans && [ "$$ans" = y ] && rm -rf data && echo "Deleted data/." || echo "Kept data/."
