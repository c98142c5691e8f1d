"""How long `dcn --help` and every `dcn COMMAND --help` take, each in a fresh process.

The command line parses before it imports TensorFlow, so help answers at once. This runs
each help `--repeats` times in a new interpreter (as a user types it) and prints the
median seconds, with, for scale, the time of `import dcn_keras` (TensorFlow and Keras):

    .venv/bin/python benchmarks/cli_start.py [--json docs/bench/cli_start.json]
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time

from dcn_keras_cli import cli


def _seconds(arguments: list[str], repeats: int) -> float:
    """Median wall seconds of `python arguments...` in a new process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *arguments], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="processes per command (median)")
    parser.add_argument("--json", type=pathlib.Path, help="also write the result here")
    args = parser.parse_args(argv)
    commands = next(action for action in cli.build_parser()._actions
                    if isinstance(action, argparse._SubParsersAction)).choices
    entry = ["-m", "dcn_keras_cli.cli"]
    rows = [{"command": "dcn --help", "seconds": _seconds([*entry, "--help"], args.repeats)}]
    rows += [{"command": f"dcn {name} --help",
              "seconds": _seconds([*entry, name, "--help"], args.repeats)}
             for name in commands]
    imports = _seconds(["-c", "import dcn_keras"], args.repeats)
    from dcn_keras import measure

    result = {"machine": measure.machine_description(), "repeats": args.repeats,
              "rows": rows, "import_dcn_keras_seconds": imports}
    for row in rows:
        print(f"{row['command']:>28}: {row['seconds']:.2f} s")
    print(f"{'import dcn_keras':>28}: {imports:.2f} s")
    if args.json:
        from dcn_keras import atomic

        atomic.write_text(args.json, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
