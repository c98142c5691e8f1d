# Two commands set up and run everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
MNIST_DIR ?= $(abspath ../shared/data/mnist)
RUN_DIR ?= runs/cluttered_mnist
VENV := .venv
STAMP := $(VENV)/.synced

.PHONY: demo test install clean

$(STAMP): uv.lock pyproject.toml setup.cfg
	$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv sync --frozen --extra test
	touch $(STAMP)

install: $(STAMP)

# Builds Cluttered MNIST from $(MNIST_DIR), trains coarse, fine, DCN w/o and with hints,
# and writes the comparison table and plots to $(RUN_DIR)/report.
demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/dcn experiment --out $(RUN_DIR) --mnist-dir $(MNIST_DIR)

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 DCN_MNIST_DIR=$(MNIST_DIR) $(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
