"""Progress that reads well on a terminal and in a log file."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

LINES = 10  # progress lines in a log: at most one at every tenth of the work,
QUIET_SECONDS = 5.0  # and none sooner than this after the last


def bar(items, total: int, description: str, unit: str, done: int = 0,
        disable: bool = False):
    """`items`, reporting progress: tqdm's bar where standard error is a terminal; else (a
    log file) a line at every tenth of `total` that comes `QUIET_SECONDS` after the last, and
    one at the end, which a log keeps where a bar leaves one line that its last redraw
    cleared. `done` of `total` were done before."""
    if disable:
        return items
    if sys.stderr.isatty():
        return tqdm(items, total=total, initial=done, desc=description, unit=unit, leave=False)
    return _lines(items, total, description, unit, done)


def _lines(items, total: int, description: str, unit: str, done: int):
    start, every = time.monotonic(), max(1, total // LINES)
    last = start
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if done == total or (done % every == 0 and now - last >= QUIET_SECONDS):
            print(f"{description}: {done:,}/{total:,} {unit} ({now - start:.0f} s)",
                  file=sys.stderr, flush=True)
            last = now


def keras_verbosity(verbose: int | str) -> int | str:
    """Keras `fit`'s verbosity: "auto" is a progress bar on a terminal and one line per epoch
    elsewhere (a log file), where a bar's redraws pile up; numbers stay as given."""
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2
