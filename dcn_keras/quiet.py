"""Import TensorFlow without the start-up noise of a machine without a GPU, and keep TFX's
internal warnings that ask nothing of the user out of a pipeline run.

On import and on its first look for devices, TensorFlow's C++ core writes lines such as
"Could not find cuda drivers on your machine" and "failed call to cuInit" to standard error,
before its log level applies. Users read them as failures. `import_tensorflow` drops exactly
those lines, and only where no NVIDIA driver is loaded (where one is, a failing cuInit is a
real error); every other line passes through. TF_CPP_MIN_LOG_LEVEL defaults to 2 (errors
only) unless set.
"""

from __future__ import annotations

import logging
import os
import pathlib
import sys
import threading

NOISE = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "Could not find cuda drivers on your machine, GPU will not be used",
    "failed call to cuInit",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation placer already registered",
)


def _is_noise(line: bytes) -> bool:
    return any(pattern.encode() in line for pattern in NOISE)


def import_tensorflow():
    """Import TensorFlow and list its devices, dropping the lines of `NOISE` from the
    process's standard error meanwhile; returns the module."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or pathlib.Path("/proc/driver/nvidia").exists():
        import tensorflow as tf

        return tf
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        read, write = os.pipe()
    except OSError:  # no file descriptor 2 (embedded interpreters): nothing to filter
        import tensorflow as tf

        return tf
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(os.fdopen(read, "rb")),
                              daemon=True)
    reader.start()
    os.dup2(write, 2)
    os.close(write)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        reader.join()
        kept = b"".join(line for line in lines if not _is_noise(line))
        if kept:
            os.write(2, kept)
    return tf


# Python-side warnings of TFX's local orchestrator about its own internals.
TFX_NOISE = (
    # The LocalDagRunner ignores the property predicates that TFX's own channels carry.
    "property_predicate is not supported",
)


class _DropTfxNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(pattern in message for pattern in TFX_NOISE)


def quiet_tfx() -> None:
    """Drop the warnings of `TFX_NOISE` from absl's log; everything else still shows."""
    logging.getLogger("absl").addFilter(_DropTfxNoise())
