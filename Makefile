# Two commands set up and run everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
MNIST_DIR ?= $(abspath ../shared/data/mnist)
RUN_DIR ?= runs/cluttered_mnist
VENV := .venv
STAMP := $(VENV)/.synced

.PHONY: demo experiment house-numbers test install clean

$(STAMP): uv.lock pyproject.toml setup.cfg
	$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv sync --frozen --extra test
	touch $(STAMP)

install: $(STAMP)

# The main job: the quick Cluttered MNIST TFX pipeline (LocalDagRunner, SQLite ML Metadata,
# Beam DirectRunner) into runs/pipeline; prints where the evaluation table and the pushed
# TF Serving model are.
demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python pipeline/dcn_pipeline.py --profile quick \
		--mnist-dir $(MNIST_DIR) --pipeline-root runs/pipeline

# The recorded 41-minute run behind the README's results: 28k images, 12 epochs, 4 models.
experiment: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/dcn experiment --out $(RUN_DIR) --mnist-dir $(MNIST_DIR)

# The recorded SVHN-transfer run on MNIST house numbers (README, "SVHN"): about 80 minutes.
house-numbers: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/dcn house-numbers --out runs/house --mnist-dir $(MNIST_DIR) \
		--train 30000 --valid 1000 --test 500 --epochs 5 --batch-size 32 --precision bfloat16

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 DCN_MNIST_DIR=$(MNIST_DIR) $(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
