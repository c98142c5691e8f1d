"""Importing dcn_keras keeps TensorFlow's CUDA start-up noise out of a CPU run, and nothing
else."""

import os
import subprocess
import sys

import pytest

from dcn_keras import quiet

SCRIPT = """
import sys
import dcn_keras
import tensorflow as tf
tf.config.list_physical_devices()
print("a real error", file=sys.stderr)
"""


def test_only_the_known_noise_is_dropped():
    assert quiet._is_noise(b"E0000 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n")
    assert quiet._is_noise(b"I0000 cudart_stub.cc:31] Could not find cuda drivers on your "
                           b"machine, GPU will not be used.\n")
    assert not quiet._is_noise(b"E0000 some_kernel.cc:1] Out of memory\n")
    assert not quiet._is_noise(b"Traceback (most recent call last):\n")


@pytest.mark.skipif(os.path.exists("/proc/driver/nvidia"),
                    reason="with an NVIDIA driver loaded, CUDA messages are real and kept")
def test_a_cpu_run_prints_no_cuda_noise_but_keeps_other_errors():
    environment = {key: value for key, value in os.environ.items()
                   if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "a real error" in done.stderr
    for noise in ("cuInit", "Could not find cuda drivers", "absl::InitializeLog"):
        assert noise not in done.stderr
