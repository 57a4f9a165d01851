# Attune: `make run` starts everything on a fresh machine, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
export DEBUG ?= 1

.PHONY: run test test-fast venv migrate demo lint format schema bench-smoke clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --noinput

# Web server and a django-q2 worker together; demo data and an admin login on first start.
# Ctrl-C reaches both processes from the terminal and each stops on its own; the shell waits for the
# worker (stopped explicitly when the web server ends another way, on a TERM, or when it has not
# stopped 20 s after Ctrl-C, e.g. interrupted while still starting).
# Never `trap 'kill 0'`: it signals its own shell again and again (RecursionError, segfault).
run: migrate
	$(PY) manage.py bootstrap
	@echo "Attune: http://$(HOST):$(PORT)/admin/  (API docs: http://$(HOST):$(PORT)/api/docs/)  Ctrl-C stops both."
	@$(PY) manage.py qcluster & worker=$$!; \
	  trap 'interrupted=1' INT; \
	  trap 'kill -TERM $$worker 2>/dev/null' TERM; \
	  $(PY) manage.py runserver $(HOST):$(PORT) --noreload; \
	  [ -n "$$interrupted" ] || kill -TERM $$worker 2>/dev/null; \
	  for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do kill -0 $$worker 2>/dev/null || break; sleep 1; done; \
	  kill -TERM $$worker 2>/dev/null; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $$worker 2>/dev/null || break; sleep 1; done; \
	  if kill -0 $$worker 2>/dev/null; then pkill -KILL -P $$worker; kill -KILL $$worker; fi 2>/dev/null; \
	  wait $$worker 2>/dev/null; \
	  echo "Attune stopped."

# The whole suite: PostgreSQL when DATABASE_URL is set, else SQLite.
test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# The quick subset (used on SQLite in CI).
test-fast: venv
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schema: venv
	$(PY) manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

# The benchmark's CI smoke run (size S) on its own database; see docs/performance.md for size M.
bench-smoke: venv
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/attune_bench_ci} $(PY) -m bench run --size S --smoke

clean:
	rm -rf var/attune.sqlite3*
