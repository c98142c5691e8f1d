"""The exported signatures under load: many threads call one loaded SavedModel at once with
mixed batch sizes (and mixed image sizes for the multi-digit DCN). Every answer must equal
the answer to the same request sent alone, no call may fail, and resident memory must stay
flat over a bounded soak. The models have fresh weights: correctness under concurrency does
not depend on training. Speed is measured by benchmarks/serving_load.py, not here."""

import concurrent.futures
import gc
import pathlib
import threading

import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.data import tfrecords
from dcn_keras.serving import export
from tests.helpers import house_numbers_dcn

THREADS = 8
MiB = 2**20


@pytest.fixture(scope="module")
def cluttered(tmp_path_factory):
    """Loaded signatures of a fresh Cluttered MNIST DCN's SavedModel."""
    family = presets.family("cluttered_mnist")
    model = family.build("dcn")
    model(np.zeros((1, 100, 100, 1), np.float32))
    path = export.write_saved_model(model, tmp_path_factory.mktemp("load") / "1", family)
    return tf.saved_model.load(str(path)).signatures


@pytest.fixture(scope="module")
def multi_digit(tmp_path_factory):
    """Loaded signatures of a fresh composed multi-digit DCN's SavedModel (k = 2)."""
    dcn = house_numbers_dcn()
    path = export.write_saved_model(dcn, tmp_path_factory.mktemp("load") / "1",
                                    presets.family("house_numbers"))
    return tf.saved_model.load(str(path)).signatures


def _cluttered_requests(batch_sizes, seed=0) -> list[tuple[str, dict]]:
    """(signature name, inputs) pairs: for each batch size, random `[b, 100, 100, 1]` images
    to `serving_images` and `b` tf.Examples of other random images to `serving_default`."""
    rng = np.random.default_rng(seed)
    requests = []
    for batch in batch_sizes:
        images = rng.random((batch, 100, 100, 1), dtype=np.float32)
        pixels = rng.integers(0, 256, (batch, 100, 100), dtype=np.uint8)
        requests.append(("serving_images", {"images": tf.constant(images)}))
        requests.append(("serving_default", {"examples": tf.constant(
            [tfrecords.serialize(p, 0, (0, 0, 0, 0)) for p in pixels])}))
    return requests


def _multi_digit_requests(batch_sizes, seed=0) -> list[tuple[str, dict]]:
    """(signature name, inputs) pairs: for each batch size, images of random sizes, zero
    padded with their sizes to `serving_images` and as sequence tf.Examples to
    `serving_default`."""
    from dcn_keras.house_numbers.dcn import pad_batch

    rng = np.random.default_rng(seed)
    requests = []
    for batch in batch_sizes:
        pixels = [rng.integers(0, 256, (rng.integers(20, 81), rng.integers(30, 151), 1),
                               dtype=np.uint8) for _ in range(batch)]
        images, sizes = pad_batch([p.astype(np.float32) / 255 for p in pixels])
        requests.append(("serving_images", {"images": images, "sizes": sizes}))
        requests.append(("serving_default", {"examples": tf.constant(
            [tfrecords.serialize_sequence(p, [1], (0, 0, 1, 1)) for p in pixels])}))
    return requests


def _answer(signature, inputs: dict) -> dict[str, np.ndarray]:
    """The outputs of one call, fetched."""
    return {key: value.numpy() for key, value in signature(**inputs).items()}


class _InFlight:
    """Counts the calls running at once, and the most seen, so that a test knows that its
    calls overlapped rather than ran one after another."""

    def __init__(self):
        self._lock = threading.Lock()
        self.now = self.most = 0

    def call(self, signature, inputs: dict) -> dict[str, np.ndarray]:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return _answer(signature, inputs)
        finally:
            with self._lock:
                self.now -= 1


def _serve_concurrently(signatures, requests, threads=THREADS) -> tuple[list[dict], int]:
    """(answers in request order, most calls in flight at once) of `requests` sent from
    `threads` threads; a failed call raises here (`Future.result`)."""
    in_flight = _InFlight()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(in_flight.call, signatures[name], inputs)
                   for name, inputs in requests]
        return [future.result() for future in futures], in_flight.most


def _assert_same_answers(signatures, requests):
    """Concurrent answers equal sequential ones bit for bit. The same graph on inputs of the
    same shape runs the same kernels with the same work split (set by the shapes and the
    thread-pool size, not by timing), so any difference means requests interfered."""
    sequential = [_answer(signatures[name], inputs) for name, inputs in requests]
    concurrent_answers, most = _serve_concurrently(signatures, requests)
    assert most >= THREADS // 2, f"only {most} calls overlapped; the test ran sequentially"
    for (name, inputs), alone, together in zip(requests, sequential, concurrent_answers):
        assert alone.keys() == together.keys()
        for key in alone:
            np.testing.assert_array_equal(together[key], alone[key],
                                          err_msg=f"{name} output {key}, batch "
                                                  f"{next(iter(inputs.values())).shape[0]}")


def test_cluttered_mnist_answers_under_concurrent_mixed_batches(cluttered):
    batch_sizes = [1, 16, 3, 8, 1, 11, 2, 16, 5, 1, 13, 4, 7, 1, 9, 6] * 2
    _assert_same_answers(cluttered, _cluttered_requests(batch_sizes))


@pytest.mark.slow
def test_multi_digit_answers_under_concurrent_mixed_sizes(multi_digit):
    # Batches up to 4 (not 16): a multi-digit request costs over 10x a Cluttered MNIST one
    # (three scales, larger images), and the sizes, not the batch, are what this varies.
    requests = _multi_digit_requests([1, 4, 2, 1, 3, 4, 1, 2, 3, 1, 2, 4])
    shapes = {tuple(inputs["images"].shape[1:3]) for name, inputs in requests
              if name == "serving_images"}
    assert len(shapes) == len(requests) // 2  # every padded size differs
    _assert_same_answers(multi_digit, requests)


def _resident_mib() -> float:
    """This process's resident memory (VmRSS) in MiB, after a garbage collection."""
    gc.collect()
    status = pathlib.Path("/proc/self/status")
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _nbytes(tensor: tf.Tensor) -> int:
    """Bytes of a tensor's values (of its strings, for a string tensor)."""
    if tensor.dtype == tf.string:
        return sum(len(value) for value in tensor.numpy())
    return tensor.numpy().nbytes


def _soak(signatures, requests, expected, count: int) -> None:
    """Send `count` requests, cycling through `requests`, from `THREADS` threads; check every
    answer against `expected` (answers, same order) as it comes back, without keeping it."""
    def one(index):
        name, inputs = requests[index % len(requests)]
        answer = _answer(signatures[name], inputs)
        for key, value in expected[index % len(requests)].items():
            np.testing.assert_array_equal(answer[key], value)

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(one, index) for index in range(count)]:
            future.result()


# 5,000 batch-1 requests take about 30 s on 2 cores; 500 first bring the thread pools, the
# allocator's arenas and TensorFlow's caches to their steady size.
SOAK_REQUESTS, WARMUP_REQUESTS = 5_000, 500
SOAK_BOUND_MIB = 32


@pytest.mark.slow
@pytest.mark.skipif(not pathlib.Path("/proc/self/status").exists(),
                    reason="reads VmRSS from /proc (Linux)")
def test_resident_memory_stays_flat_over_a_soak(cluttered):
    requests = _cluttered_requests([1] * 8, seed=1)  # 16 small requests, both signatures
    expected = [_answer(cluttered[name], inputs) for name, inputs in requests]
    # Were every request's input kept, memory would grow by this much; the bound must be far
    # below it, so that such a leak fails the test.
    input_bytes = [sum(map(_nbytes, inputs.values())) for _, inputs in requests]
    leak_mib = SOAK_REQUESTS * np.mean(input_bytes) / MiB
    assert leak_mib / 2 >= SOAK_BOUND_MIB, (SOAK_BOUND_MIB, leak_mib)
    _soak(cluttered, requests, expected, WARMUP_REQUESTS)
    before = _resident_mib()
    _soak(cluttered, requests, expected, SOAK_REQUESTS)
    growth = _resident_mib() - before
    assert growth < SOAK_BOUND_MIB, (
        f"resident memory grew by {growth:.1f} MiB over {SOAK_REQUESTS} requests (bound "
        f"{SOAK_BOUND_MIB} MiB; leaking every input would add {leak_mib:.0f} MiB)")
