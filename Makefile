# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs from this project's own files; nothing else needs to be on the machine but Python >= 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# What the venv's Python runs from here (the demo, the suites' some hundred processes: workers, MCP servers,
# CLIs; the benchmarks) share one bytecode cache under .venv/pycache, written even where PYTHONDONTWRITEBYTECODE
# is set, which would have each process compile everything again (16 of a worker's 22 s of collection; a fifth of
# a CLI/server test's CPU). So uv need not compile the venv's ~10,000 files at install (10 s): those used compile once.
RUN_ENV := PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX="$(abspath $(VENV))/pycache"
SEED_QUESTION := What is 123 to the power of 21?

.PHONY: demo test live-test bench docs venv clean mutate

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)

# $(call install,VENV,ARGUMENTS): installs into that venv with uv, itself installed there from PyPI (the
# ~150 packages of the dev venv take seconds, pip takes 40 s with a warm cache). uv reads no pip.conf: where it
# cannot install (a private index set only for pip, no uv wheel for the platform), pip does it instead;
# `--group` needs pip >= 25.1, so pip is upgraded first on that path.
define install
	@$(1)/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.9" \
		&& $(1)/bin/uv pip install --quiet --python $(1)/bin/python $(2) \
		|| { echo "uv could not install: pip installs instead (slower)"; \
			$(1)/bin/python -m pip install --quiet --upgrade "pip>=25.1" \
			&& $(1)/bin/python -m pip install --quiet $(2); }
endef

# The stamps depend on pyproject.toml, so a changed dependency list reinstalls.
$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(call install,$(VENV),-e ".[all]")
	touch $@

# The dev tools are a PEP 735 dependency group (not an extra, so not in the published metadata).
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(call install,$(VENV),-e ".[all]" --group dev)
	touch $@ $(VENV)/.demo-installed

venv: $(VENV)/.dev-installed

# Asks the seed question through the CLI: the real service when DASHSCOPE_API_KEY is set,
# otherwise the local emulator (the CLI says which).
demo: $(VENV)/.demo-installed
	@if [ -n "$${DASHSCOPE_API_KEY:-}" ]; then \
		$(RUN_ENV) $(BIN)/qwen-ci ask "$(SEED_QUESTION)"; \
	else \
		$(RUN_ENV) $(BIN)/qwen-ci ask --emulator "$(SEED_QUESTION)"; \
	fi

# The suite runs on TEST_WORKERS pytest-xdist workers (`make test TEST_WORKERS=0` runs it in one
# process): most tests wait on subprocesses, sockets and node, so three workers gain on two cores.
# --dist loadfile keeps each file on one worker, so a module-scoped fixture (the quick benchmark
# run, the built wheel) is made once; --no-loadscope-reorder hands files out in collection order
# (xdist would otherwise start the files with most tests first, and the one-minute quick benchmark
# run, in a file of few tests, last). A bare `pytest` stays serial (the live suite runs that way).
# --durations=10 ends the report with the ten slowest steps: where the suite's minutes go, in every CI log.
# mypy checks beside the tests (its ~20 s of one core fit in their waits; the suite leaves a fifth of the two
# cores idle); its report follows theirs, and either failing fails `make test`.
TEST_WORKERS ?= 3
test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "mypy runs beside the tests; its report follows theirs"
	@$(BIN)/python -m mypy > $(VENV)/mypy.out 2>&1 & typecheck=$$!; \
	$(RUN_ENV) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=10; \
	tests=$$?; wait $$typecheck; types=$$?; \
	echo "mypy:"; cat $(VENV)/mypy.out; \
	[ $$tests -eq 0 ] && [ $$types -eq 0 ]

# The live suite (tests/live, marker `live`) against the real service: needs DASHSCOPE_API_KEY;
# honours DASHSCOPE_HTTP_BASE_URL and QWEN_CI_LIVE_REGION; leaves its raw streams in
# tests/fixtures/live (or QWEN_CI_LIVE_RECORD_DIR) for the emulator to replay.
live-test: $(VENV)/.dev-installed
	@if [ -z "$${DASHSCOPE_API_KEY:-}" ]; then \
		echo "live tests skipped: DASHSCOPE_API_KEY is not set (export it, with DASHSCOPE_HTTP_BASE_URL or QWEN_CI_LIVE_REGION if not Beijing)"; \
	else \
		QWEN_CI_LIVE=1 $(RUN_ENV) $(BIN)/python -m pytest -m live tests/live -v -rs; \
	fi

bench: $(VENV)/.dev-installed
	$(RUN_ENV) $(BIN)/python -m benchmarks
	$(RUN_ENV) $(BIN)/python -m benchmarks.soak
	$(RUN_ENV) $(BIN)/python -m benchmarks.readme --write-readme

# Regenerates the README's generated sections (the fault matrix from tests/fault_matrix.py, the
# performance figures from benchmarks/results/); the tests fail when a section differs.
docs: $(VENV)/.dev-installed
	$(RUN_ENV) $(BIN)/python -m tests.fault_matrix --write-readme
	$(RUN_ENV) $(BIN)/python -m benchmarks.readme --write-readme

# Mutation testing of chosen files (tests/mutate.py says how to read it), in a venv of its own that holds the
# project's dependencies but not the project, so the tests import the mutated copy:
#   make mutate FILES="qwen_ci_tool/_sse.py" TESTS="tests/core/"   [JOBS=2] [MUTANTS="name-glob ..."] [KINDS=more|names]
MUTATE_VENV := .venv-mutate
$(MUTATE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(MUTATE_VENV)
	$(call install,$(MUTATE_VENV),".[all]" --group dev --group mutate)
	$(MUTATE_VENV)/bin/python -m pip uninstall --quiet --yes qwen-ci-tool
	touch $@

mutate: $(MUTATE_VENV)/.installed
	$(MUTATE_VENV)/bin/python tests/mutate.py --files "$(FILES)" --tests "$(or $(TESTS),tests/core/)" \
		--jobs $(or $(JOBS),1) --mutmut $(MUTATE_VENV)/bin/mutmut $(if $(KINDS),--kinds $(KINDS)) $(MUTANTS)

clean:
	rm -rf $(VENV) $(MUTATE_VENV) .mutate .pytest_cache .hypothesis
