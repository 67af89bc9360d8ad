# Everything a newcomer needs: `make demo` (install + profile GPT-2 offline), `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: install demo lint test test-all bench coverage validate clean

install: $(STAMP)

# torch/torchvision come from this machine's local wheels (pip's constraint caps them);
# then the package with every extra and the test tools.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==2.14.1" "torchvision==0.29.1"
	$(PIP) install -q -e ".[test]"
	touch $(STAMP)

demo: install
	$(VENV)/bin/modellens profile gpt2

# the import rule (docs/DEVELOPING.md): each package imports only from the floors below it
lint: install
	$(VENV)/bin/lint-imports

test: install lint
	$(PY) -m pytest -q -n 2

test-all: install
	$(PY) -m pytest -q -n 2 -m "slow or not slow"

bench: install
	$(PIP) install -q -e ".[bench]"
	$(PY) benchmarks/run.py

coverage: install
	$(PY) benchmarks/coverage.py

# the time model's validation (docs/validation.md): this CPU, then the published GPU rows
validate: install
	$(PY) benchmarks/validate_cpu.py
	$(PY) benchmarks/calibration/fit_gpu.py --check
	$(PY) benchmarks/calibration/validate_gpu_e2e.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
