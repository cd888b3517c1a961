# The README's two commands: `make demo` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
AUDIT_VENV  := .venv-audit
AUDIT_STAMP := $(AUDIT_VENV)/.installed

.PHONY: demo test lint typecheck unit system-deps lock docs clean bench bench-smoke audit-deps \
  test-newest test-newest-smoke test-lowest test-pythons

$(STAMP): requirements/test.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/test.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

## demo: set up, then walk through the built-in demo SOP on this machine (in a scratch
## folder under /tmp); without a terminal it runs with --yes
demo: $(STAMP)
	$(BIN)/sop lint runbooks/demo.yaml
	@if [ -t 0 ]; then $(BIN)/sop run demo; else $(BIN)/sop run --yes demo; fi

## test: set up (venv from the lock file, sshd, chromium), then ruff, mypy, the whole suite, and
## a few tests against the wheel installed as users install it (test-newest-smoke)
test: $(STAMP) system-deps lint typecheck unit test-newest-smoke

system-deps:
	bash scripts/system-deps

lint: $(STAMP)
	$(BIN)/ruff check sop tests
	$(BIN)/ruff format --check sop tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

## test-newest: build the wheel, install it into a fresh venv with the newest dependencies pip
## resolves (no lock file), run the fast suite against that copy (scripts/test-installed)
test-newest:
	bash scripts/test-installed $(PYTHON)

## test-newest-smoke: the same with the tests that exercise the installed package and the
## libraries the lock does not pin for users (about a minute; part of `make test`)
NEWEST_SMOKE := tests/format/test_scaffold.py tests/checks/test_doctor.py tests/cli/test_cli.py \
  tests/run/test_steps.py tests/executors
test-newest-smoke:
	bash scripts/test-installed $(PYTHON) $(NEWEST_SMOKE)

## test-lowest: the same with the lowest versions pyproject.toml allows (resolved by uv): the
## lower bounds are claims, this tests them
test-lowest:
	RESOLUTION=lowest bash scripts/test-installed $(PYTHON)

## test-pythons: test-newest on every Python >= 3.11 this machine has (PATH, pyenv, uv)
test-pythons:
	bash scripts/test-pythons

## bench: the peers' environment (bench/.venv, pinned in bench/requirements.txt), then every
## benchmark (5 interleaved runs each): prints the targets with their ratios, writes bench/RESULTS.md
BENCH_STAMP := bench/.venv/.installed

$(BENCH_STAMP): bench/requirements.txt
	test -x bench/.venv/bin/python || $(PYTHON) -m venv bench/.venv
	bench/.venv/bin/python -m pip install --quiet -r bench/requirements.txt
	touch $@

bench: $(STAMP) system-deps $(BENCH_STAMP)
	$(BIN)/python -m bench.run

## bench-smoke: one quick pass of every benchmark (tiny sizes, no Ansible), numbers meaningless
bench-smoke: $(STAMP) system-deps
	$(BIN)/python -m bench.run --smoke --out bench/out/RESULTS-smoke.md

## docs: render runbooks/ into docs/runbooks/ (generated, not committed), then build site/ strictly
docs: $(STAMP)
	rm -rf docs/runbooks
	$(BIN)/sop render runbooks --format markdown --out docs/runbooks
	$(BIN)/mkdocs build --strict

## lock: re-resolve requirements/test.lock (with hashes) from pyproject.toml
lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile pyproject.toml requirements/build.in --extra test \
	  --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	  -o requirements/test.lock
	$(PYTHON) -m uv pip compile requirements/audit.in \
	  --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	  -o requirements/audit.lock

## audit-deps: pip-audit (pinned, in its own venv) over the locked test environment. Needs the
## network (a vulnerability service); not part of `make test`: see docs/dependencies.md
audit-deps: $(AUDIT_STAMP)
	$(AUDIT_VENV)/bin/pip-audit --strict --progress-spinner off \
	  --disable-pip --require-hashes -r requirements/test.lock

$(AUDIT_STAMP): requirements/audit.lock
	test -x $(AUDIT_VENV)/bin/python || $(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/audit.lock
	touch $@

clean:
	rm -rf $(VENV) $(AUDIT_VENV) .pytest_cache .mypy_cache .ruff_cache site build
