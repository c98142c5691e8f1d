"""The one timer: functions called side by side, interleaved, medians; the machine; the
standard error of a measured error rate, and of a paired difference; and a benchmark's result,
printed and written."""

from __future__ import annotations

import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from dcn_keras import atomic


def time_side_by_side(functions: dict, *args, repeats: int = 10,
                      warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call of each function on the same arguments, `repeats` times.

    Calls are interleaved within every repeat so that drifts in machine load
    affect all functions alike; outputs are fetched (`.numpy()`) so that
    asynchronous devices finish the work inside the timed region.
    """
    for function in functions.values():
        for _ in range(warmup):
            _fetch(function(*args))
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            _fetch(function(*args))
            times[name].append(time.perf_counter() - start)
    return times


def time_per_input(functions: dict, inputs: list, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds of one call of each function on each of `inputs` (argument tuples), called
    interleaved input by input, after `warmup` calls each on the first input."""
    for function in functions.values():
        for _ in range(warmup):
            _fetch(function(*inputs[0]))
    times = {name: [] for name in functions}
    for args in inputs:
        for name, function in functions.items():
            start = time.perf_counter()
            _fetch(function(*args))
            times[name].append(time.perf_counter() - start)
    return times


def inference_memory_mb(function, *args, repeats: int = 5) -> dict[str, float]:
    """Resident memory (MiB) that calling the traced (not yet called) `function` on `args`
    `repeats` times adds, first-call buffers included: the peak RSS less the RSS before
    (`inference_mb`), and the process's peak (`peak_rss_mb`). Linux only
    (/proc/self/clear_refs resets the peak to the current RSS), and meant for a fresh
    process holding one model, so that no other model's buffers are counted and the
    TensorFlow import and tracing are left out."""
    pathlib.Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    for _ in range(repeats):
        _fetch(function(*args))
    peak = _status_kib("VmHWM")
    return {"inference_mb": (peak - before) / 1024, "peak_rss_mb": peak / 1024}


def probe_in_fresh_process(module: str, *args: str, command: str = "memory-probe") -> dict:
    """The JSON that `python -m module <command> args...` prints last: a probe run in a new
    interpreter, so that no other model's buffers share its memory. A "tensor-probe" runs
    with `TENSOR_PROBE_ENV` (`tensor_memory_mb`)."""
    env = {**os.environ, **(TENSOR_PROBE_ENV if command == "tensor-probe" else {})}
    output = subprocess.run([sys.executable, "-m", module, command, *args], env=env,
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


# TensorFlow's CPU allocator counts its bytes only when it is the BFC allocator, chosen
# before TensorFlow starts.
TENSOR_PROBE_ENV = {"TF_CPU_ALLOCATOR_USE_BFC": "true"}


def tensor_memory_mb(function, *args, repeats: int = 5) -> dict[str, float]:
    """MiB of tensors that TensorFlow's CPU allocator holds while `function` (traced) runs
    `repeats` times on `args` after one call: `tensor_added_mb`, the peak beyond what was
    held before, and `tensor_peak_mb`, that plus the inputs and the function's variables
    (the weights). Unlike the resident memory of `inference_memory_mb` it leaves out the
    runtime's own buffers and the allocator's slack. Needs `TENSOR_PROBE_ENV` set before
    TensorFlow starts (`probe_in_fresh_process` sets it for a "tensor-probe")."""
    # A tensor made from a NumPy array shares the array's memory, which the allocator never
    # counts, or is copied into the allocator, as the array's alignment falls: the inputs
    # are copied into the allocator here, and they and the weights are counted by their
    # sizes rather than by what the allocator happens to hold.
    args = [tf.zeros_like(arg) + arg if isinstance(arg, tf.Tensor) else arg for arg in args]
    _fetch(function(*args))
    try:
        tf.config.experimental.reset_memory_stats("CPU:0")
    except ValueError as error:
        raise RuntimeError("TensorFlow's CPU allocator keeps no statistics here: start the "
                           "process with TF_CPU_ALLOCATOR_USE_BFC=true.") from error
    current = tf.config.experimental.get_memory_info("CPU:0")["current"]
    for _ in range(repeats):
        _fetch(function(*args))
    added = tf.config.experimental.get_memory_info("CPU:0")["peak"] - current
    held = sum(int(tf.size(value)) * value.dtype.size for value in
               [*(arg for arg in args if isinstance(arg, tf.Tensor)),
                *getattr(function, "variables", ())])
    return {"tensor_peak_mb": (added + held) / 2**20, "tensor_added_mb": added / 2**20}


def start_runtime() -> None:
    """Run one small convolution, so that the memory the runtime sets up once per process
    (thread pools, the first convolution's buffers: about 20 MiB on CPU) is not counted as
    a model's by `inference_memory_mb`."""
    images = tf.random.uniform([1, 64, 64, 3])
    _fetch(tf.nn.relu(tf.nn.conv2d(images, tf.random.uniform([3, 3, 3, 8]), 2, "SAME")))


def _status_kib(field: str) -> int:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def medians_ms(times: dict[str, list[float]]) -> dict[str, float]:
    """{name: median milliseconds} of `time_side_by_side` / `time_per_input` results."""
    return {name: 1e3 * statistics.median(values) for name, values in times.items()}


def _fetch(outputs) -> None:
    for output in tf.nest.flatten(outputs):
        if hasattr(output, "numpy"):
            output.numpy()


def cpu_name() -> str:
    """The CPU model, from /proc/cpuinfo where there is one."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_features() -> str:
    """"AVX-512 with BF16", "AVX-512" or "AVX2 (no AVX-512)": what decides the speed of
    TensorFlow's CPU kernels (and whether bfloat16 is native) on x86; with the oneDNN
    kernels held to a lower instruction set (`ONEDNN_MAX_CPU_ISA`), that too."""
    try:
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown ISA"
    if "avx512_bf16" in flags:
        found = "AVX-512 with BF16"
    elif "avx512f" in flags:
        found = "AVX-512"
    else:
        found = "AVX2 (no AVX-512)" if "avx2" in flags else "no AVX2"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return f"{found}; oneDNN kernels held to {cap} (ONEDNN_MAX_CPU_ISA)" if cap else found


def native_bfloat16() -> bool:
    """Whether this machine computes bfloat16 natively: a GPU, or an x86 CPU with AVX512-BF16
    or AMX. Elsewhere TensorFlow emulates it, and mixed bfloat16 trains slower than float32
    (docs/bench/house_numbers_precision.md: 11x slower for the house-numbers fine model on
    AVX2)."""

    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def machine_description() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU" if gpus else "no GPU"
    return (f"{os.cpu_count()} CPU cores ({cpu_name()}, {cpu_features()}), {device}, "
            f"TensorFlow {tf.__version__}, Python {platform.python_version()}")


def publish(result: dict, path: pathlib.Path | None = None) -> None:
    """Prints a benchmark's `result` as JSON, headed by the machine it ran on, and writes the
    same text atomically to `path` when one is given."""
    text = json.dumps({"machine": machine_description(), **result}, indent=2)
    print(text)
    if path:
        atomic.write_text(path, text + "\n")


def wrong(scores, labels) -> np.ndarray:
    """`[batch]` booleans: whether the top class of each row of `[batch, classes]` scores
    (probabilities or logits) misses its `[batch]` label."""
    predicted = tf.argmax(scores, axis=-1, output_type=tf.int32)
    return (predicted != tf.cast(labels, tf.int32)).numpy()


def wrong_marks(predict, dataset: tf.data.Dataset) -> np.ndarray:
    """`[images]` booleans of `wrong` for `predict`, mapping inputs to `[batch, classes]`
    scores, over `(inputs, labels)` batches."""
    marks = [wrong(predict(inputs), labels) for inputs, labels in dataset]
    return np.concatenate(marks) if marks else np.zeros(0, bool)


def standard_error(error: float, images: int) -> float:
    """The binomial standard error of an error rate measured on `images` images."""
    return math.sqrt(error * (1 - error) / images) if images else 0.0


def clustered_standard_error(values, groups) -> float:
    """The standard error of the mean of `values` (`[n]`) whose items fall in `groups` (`[n]`
    ids) that are not independent, such as test canvases that show the same digit: the
    cluster-robust estimate, sqrt(G / (G - 1) * sum over groups of (their sum of deviations
    from the mean)^2) / n for G groups; with one item per group, the sample standard
    deviation over sqrt(n)."""
    values = np.asarray(values, np.float64)
    groups = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    if len(values) != len(groups):
        raise ValueError(f"{len(values)} values but {len(groups)} group ids.")
    count = int(groups.max()) + 1 if len(groups) else 0
    if count < 2:
        return 0.0
    sums = np.bincount(groups, weights=values - values.mean(), minlength=count)
    return float(math.sqrt(count / (count - 1) * np.sum(sums ** 2)) / len(values))


def paired_difference(marks, reference, groups=None) -> tuple[float, float]:
    """(mean, standard error) of the per-image difference `marks` - `reference`, two
    `[images]` arrays of wrong marks read on the same images: the spread is that of the
    per-image differences (0 for one image), clustered by `groups` where given
    (`clustered_standard_error`)."""
    difference = [float(a) - float(b) for a, b in zip(marks, reference, strict=True)]
    if len(difference) < 2:
        return (difference[0] if difference else 0.0), 0.0
    if groups is not None:
        return statistics.fmean(difference), clustered_standard_error(difference, groups)
    return statistics.fmean(difference), statistics.stdev(difference) / math.sqrt(
        len(difference))
