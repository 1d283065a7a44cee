# `make test` and `make demo` work on a fresh machine: each sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test demo bench bench-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[$*]"
	touch $@

# Numba's on-disk cache does not notice an edit to a kernel that another cached kernel calls,
# so any change under fastnn/kernels (or to its flags or compiler) clears the whole cache first.
$(VENV)/.kernels-compiled: $(wildcard fastnn/kernels/*.py) fastnn/config.py \
		fastnn/vector_width.py | $(BIN)/python
	find fastnn -name '*.nbi' -delete -o -name '*.nbc' -delete
	touch $@

# The CUDA backend's tests run in Numba's CUDA simulator, which must be on before numba loads.
# Most of the suite's time is Numba compiling kernels, one test's signatures at a time: a
# worker per core compiles side by side (-n auto).
test: $(VENV)/.installed-test,plots,data $(VENV)/.kernels-compiled
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest -q -n auto

demo: $(VENV)/.installed-data,plots $(VENV)/.kernels-compiled
	$(BIN)/python scripts/demo.py

# Records this commit's timings in asv_benchmarks/results (see README: tracking speed).
bench: $(VENV)/.installed-bench,data $(VENV)/.kernels-compiled
	cd asv_benchmarks && ../$(BIN)/asv machine --yes >/dev/null && \
	../$(BIN)/asv run --python=same --quick --set-commit-hash $$(git rev-parse HEAD)

# Proves every benchmark still runs (one quick pass, nothing recorded); CI runs this. The
# kernels it compiles stay in Numba's cache for the tests that CI runs next.
bench-check: $(VENV)/.installed-bench,data $(VENV)/.kernels-compiled
	cd asv_benchmarks && ../$(BIN)/asv machine --yes >/dev/null && \
	../$(BIN)/asv run --python=same --quick --dry-run --show-stderr

clean:
	rm -rf $(VENV) build *.egg-info
