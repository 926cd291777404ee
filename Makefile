# onestop — the two commands: `make run` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
export FLASK_APP := wsgi

.PHONY: run test lint worker system-deps system-deps-test translations migrate demo clean

## Run the product: SQLite under instance/, jobs inline, http://127.0.0.1:5000
run: system-deps $(VENV)/.runtime translations
	$(BIN)/flask db upgrade
	$(BIN)/flask onestop demo
	@echo "onestop is serving on http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 1 --threads 8 --access-logfile - wsgi:app

## The whole suite: SQLite always; PostgreSQL and Redis too when TEST_DATABASE_URL / REDIS_URL are set
test: system-deps-test $(VENV)/.dev translations node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## axe-core for the accessibility checks of the browser tests (from the npm registry, pinned in package-lock.json)
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## An rq worker with its scheduler, and rq cron for the periodic sweep (needs REDIS_URL)
worker: $(VENV)/.runtime
	@test -n "$$REDIS_URL" || { echo "worker: set REDIS_URL (without it jobs run inline; run 'flask onestop sweep' from cron)"; exit 1; }
	$(BIN)/rq cron --url "$$REDIS_URL" onestop/jobs/cron.py & \
	$(BIN)/rq worker --with-scheduler --worker-class onestop.certificates.worker.PreloadingWorker --url "$$REDIS_URL" onestop

lint: $(VENV)/.dev
	$(BIN)/ruff check onestop workflows forms tests bench
	$(BIN)/mypy workflows

system-deps:
	@scripts/system-deps.sh run

system-deps-test:
	@scripts/system-deps.sh test

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	@touch $@

$(VENV)/.runtime: requirements.txt | $(VENV)/.created
	$(BIN)/pip install -q -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/.created
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

translations: $(VENV)/.runtime
	@$(BIN)/pybabel compile -d translations -f

migrate: $(VENV)/.runtime
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask onestop demo

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache node_modules
