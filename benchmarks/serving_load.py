"""Throughput and latency of the exported Cluttered MNIST DCN under concurrent callers.

One process loads the SavedModel (exported here from a freshly initialised DCN unless
`--saved-model` names a `dcn export` version directory) and calls one signature from 1, 2
and 8 caller threads at once, each caller sending its next request as soon as the last one
is answered (a closed loop), for batch 1 and a larger batch. The configurations run
interleaved within every repeat, so that drifts in machine load affect them alike; each
figure is the median over repeats of that run's requests per second or latency
percentile. tests/serving/test_load.py checks the answers under load; this only times them.

    .venv/bin/python benchmarks/serving_load.py [--repeats 5] [--requests 400] \\
        [--json docs/bench/serving_load.json]
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import tempfile
import threading
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from dcn_keras import atomic, measure, presets
from dcn_keras.data import tfrecords
from dcn_keras.serving import export

PERCENTILES = (50, 90, 99)


def export_fresh(directory: pathlib.Path) -> pathlib.Path:
    """A freshly initialised Cluttered MNIST DCN written to `directory/1`: its speed does not
    depend on its weights."""
    family = presets.family("cluttered_mnist")
    model = family.build("dcn")
    model(np.zeros((1, *family.config.image_shape), np.float32))
    return export.write_saved_model(model, directory / "1", family)


def request_pool(signature_name: str, batch: int, count: int = 8) -> list[dict]:
    """`count` distinct requests of `batch` random 100x100 images, as the signature's
    inputs (`images` `[batch, 100, 100, 1]` or `examples` `[batch]`)."""
    rng = np.random.default_rng(batch)
    pixels = rng.integers(0, 256, (count, batch, 100, 100), dtype=np.uint8)
    if signature_name == "serving_images":
        return [{"images": tf.constant(p[..., None].astype(np.float32) / 255)} for p in pixels]
    return [{"examples": tf.constant([tfrecords.serialize(image, 0, (0, 0, 0, 0))
                                      for image in p])} for p in pixels]


def run_callers(signature, requests: list[dict], callers: int, total: int) -> dict:
    """`total` requests (cycling through `requests`) from `callers` threads in a closed loop
    -> {"seconds": wall time, "latencies": seconds per request}."""
    latencies = [[] for _ in range(callers)]
    start = threading.Barrier(callers + 1)

    def caller(index):
        start.wait()
        for n in range(index, total, callers):
            begin = time.perf_counter()
            for output in signature(**requests[n % len(requests)]).values():
                output.numpy()
            latencies[index].append(time.perf_counter() - begin)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    flat = [value for values in latencies for value in values]
    if len(flat) != total:
        raise RuntimeError(f"{total - len(flat)} of {total} requests failed; see above.")
    return {"seconds": seconds, "latencies": flat}


def summary(run: dict, batch: int) -> dict:
    """Requests and images per second and latency percentiles (ms) of one run."""
    rate = len(run["latencies"]) / run["seconds"]
    percentiles = np.percentile(1e3 * np.asarray(run["latencies"]), PERCENTILES)
    return {"requests_per_second": rate, "images_per_second": rate * batch,
            **{f"p{p}_ms": float(value) for p, value in zip(PERCENTILES, percentiles)}}


def machine() -> dict:
    """What decides these figures: the CPU, its cores and vector unit, the versions."""
    import keras

    features = measure.cpu_features()
    return {"cpu": measure.cpu_name(), "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)), "isa": features,
            "avx512": features.startswith("AVX-512"), "gpus": len(
                tf.config.list_physical_devices("GPU")), "tensorflow": tf.__version__,
            "keras": keras.__version__, "python": platform.python_version(),
            "description": measure.machine_description()}


def markdown(rows: list[dict], machine_name: str) -> str:
    lines = ["| batch | callers | requests/s | images/s | p50 ms | p90 ms | p99 ms |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {row['batch']} | {row['callers']} | {row['requests_per_second']:,.1f} | "
              f"{row['images_per_second']:,.0f} | {row['p50_ms']:.1f} | {row['p90_ms']:.1f} | "
              f"{row['p99_ms']:.1f} |" for row in rows]
    return "\n".join([*lines, "", f"Machine: {machine_name}"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saved-model", type=pathlib.Path,
                        help="a Cluttered MNIST DCN version directory from `dcn export` "
                             "(default: export a freshly initialised one)")
    parser.add_argument("--signature", default="serving_images",
                        choices=sorted(export.INPUT_NAMES))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--callers", type=int, nargs="+", default=[1, 2, 8])
    parser.add_argument("--requests", type=int, default=400, help="requests per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=pathlib.Path, help="write the results here")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()  # other work on the machine skews every figure
    with tempfile.TemporaryDirectory() as tmp:
        path = args.saved_model or export_fresh(pathlib.Path(tmp))
        signature = tf.saved_model.load(str(path)).signatures[args.signature]
        pools = {batch: request_pool(args.signature, batch) for batch in args.batch_sizes}
        configs = [(batch, callers) for batch in args.batch_sizes for callers in args.callers]
        for requests in pools.values():  # warm-up: tracing, thread pools, allocator
            run_callers(signature, requests, max(args.callers), 2 * max(args.callers))
        runs = {config: [] for config in configs}
        with tqdm(total=args.repeats * len(configs), desc="serving load", unit="run") as bar:
            for _ in range(args.repeats):
                for batch, callers in configs:
                    run = run_callers(signature, pools[batch], callers, args.requests)
                    runs[batch, callers].append(summary(run, batch))
                    bar.update()
    rows = [{"batch": batch, "callers": callers,
             **{key: statistics.median(run[key] for run in runs[batch, callers])
                for key in runs[batch, callers][0]},
             "per_repeat": runs[batch, callers]} for batch, callers in configs]
    result = {"model": "cluttered_mnist DCN (k = 8)", "signature": args.signature,
              "weights": str(args.saved_model) if args.saved_model else "freshly initialised",
              "inputs": "8 distinct requests of uniform random 8-bit 100x100 images per batch",
              "requests_per_run": args.requests, "repeats": args.repeats,
              "statistic": "median over repeats of each run's figure",
              "machine": machine(), "load_average_1min": {
                  "before": load_before[0], "after": os.getloadavg()[0]}, "results": rows}
    print(markdown(rows, result["machine"]["description"]))
    if args.json:
        atomic.write_text(args.json, json.dumps(result, indent=2) + "\n")
        print(f"Wrote {args.json}")


if __name__ == "__main__":
    main()
