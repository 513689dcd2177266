# gridimpact: every target sets itself up from a fresh clone (only python3 >= 3.11 and make needed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-docker lint typecheck unit bench bench-floor bench-annual clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## demo: the service path end to end: embedded stack (bundled Redis, a fresh SQLite, API, two workers), the
## Abilene example submitted over HTTP, progress, result summary, stack stopped
demo: $(STAMP)
	$(BIN)/gridimpact demo examples/abilene_stargate.json --out out/abilene

## test: lint, type-check and run every test tier (unit, e2e, slow large-grid checks)
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q

## test-docker: the fleet in Docker for real (root; ~15 min): installs Debian's docker.io, docker-compose and
## mmdebstrap when missing, starts an engine of its own, builds the stand-in bases and the image, runs the
## Compose stack through the API (tests/docker), and removes everything it started
test-docker: $(STAMP)
	docker/standins/install.sh
	GRIDIMPACT_DOCKER_TIER=1 $(BIN)/python -m pytest -q tests/docker

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

## unit: the fast tier (tests/unit): engine and worker logic on small grids and an in-memory SQLite; no
## Redis, PostgreSQL, browser, CLI process or large grid (make test runs every tier)
unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit -m "not slow"

## bench: performance targets, timed against plain pandapower in the same run
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_power_flow.py
	$(BIN)/python benchmarks/bench_contingency.py
	$(BIN)/python benchmarks/bench_service.py
	$(BIN)/python benchmarks/bench_recovery.py
	$(BIN)/python benchmarks/bench_fleet.py

## bench-annual: the year hour by hour (activsg2000, Abilene 1.2 GW) against pandapower's and lightsim2grid's
## time series, peak memory, and the service's 1 -> 2 worker ratio (~20 min; --quick: one week)
bench-annual: $(STAMP)
	$(BIN)/python benchmarks/bench_annual.py

## bench-floor: how fast the Memphis example's N-1 could be with every reactive limit known in advance (~5 min)
bench-floor: $(STAMP)
	$(BIN)/python benchmarks/bench_memphis_floor.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
