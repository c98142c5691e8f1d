# Two commands set up and run everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
MNIST_DIR ?= $(abspath ../shared/data/mnist)
RUN_DIR ?= runs/cluttered_mnist
VENV := .venv
STAMP := $(VENV)/.synced

.PHONY: demo experiment house-numbers test test-fast install clean

$(STAMP): uv.lock pyproject.toml setup.cfg
	$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv sync --frozen --extra test
	touch $(STAMP)

install: $(STAMP)

# The main job: the Cluttered MNIST TFX pipeline with the `quick` recipe (LocalDagRunner,
# SQLite ML Metadata, Beam DirectRunner) into runs/pipeline; prints where the evaluation
# table and the pushed TF Serving model are.
demo: $(STAMP)
	$(VENV)/bin/python pipeline/dcn_pipeline.py --profile quick \
		--mnist-dir $(MNIST_DIR) --pipeline-root runs/pipeline

# The recorded runs behind the published figures, each with its preset's `paper` recipe
# (dcn_keras/<family>/config.py); their commands, machines and figures are in
# docs/cluttered_mnist.md and docs/house_numbers.md. Table 1's JSON, every seed of every
# model, goes to docs/bench/table1.json; Table 2's, every attention and pooling, to
# docs/bench/table2.json.
experiment: $(STAMP)
	$(VENV)/bin/dcn experiment --out $(RUN_DIR) --mnist-dir $(MNIST_DIR)
	cp $(RUN_DIR)/report/results.json docs/bench/table1.json

house-numbers: $(STAMP)
	$(VENV)/bin/dcn house-numbers --out runs/house --mnist-dir $(MNIST_DIR)
	cp runs/house/report/results.json docs/bench/table2.json

# Everything, as CI runs it; `make test-fast` skips the slow end-to-end tests.
test: $(STAMP)
	DCN_MNIST_DIR=$(MNIST_DIR) $(VENV)/bin/python -m pytest -q --durations=30

test-fast: $(STAMP)
	DCN_MNIST_DIR=$(MNIST_DIR) $(VENV)/bin/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) runs .pytest_cache
