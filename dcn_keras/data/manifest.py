"""A data directory written as a whole, and its manifest `metadata.json`.

`dcn data` writes every split into a hidden directory beside the target, writes
`metadata.json` last, and then replaces the target directory as a whole
(`atomic.atomic_directory(replace=True)`). A killed writer therefore never leaves a new
`train` beside an old `valid` and `test`: the old directory stays complete, and the
half-written one stays hidden (`.<name>.tmp-*`) until the next build removes it.

The manifest names each split's file with its record count (`images`), size (`bytes`) and
`sha256`. Readers (`tfrecords.count_records`) check every file they read against the
manifest of its directory, so a file cut short on a record boundary, swapped or rebuilt
apart from the others is refused instead of read. Older manifests without sizes and
checksums are still checked for their counts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import shutil

from dcn_keras import atomic

MANIFEST = "metadata.json"
_CHUNK = 1 << 20


class DataError(RuntimeError):
    """A dataset file is missing or corrupt; the message says how to rebuild it."""


def _gfile():
    # TensorFlow's file system layer, so that readers take gs:// and hdfs:// paths as well;
    # imported late so that writing a manifest does not need TensorFlow.
    import tensorflow as tf

    return tf.io.gfile


def sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with _gfile().GFile(str(path), "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_sizes(sizes: dict[str, int], splits: tuple[str, ...]) -> None:
    """Raise unless `sizes` gives every split of `splits` an integer number >= 1 of images:
    an empty split would train zero steps or score nothing without a word."""
    for split in splits:
        count = sizes.get(split)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"The {split} split needs at least 1 image, got {count!r}. "
                             f"Pass --{split} N with N >= 1 (or leave it to the recipe).")


RECORD_OVERHEAD = 128  # bytes of a tf.Example beside its pixels: label, box, sizes, framing


def check_space(out_dir: str | os.PathLike, sizes: dict[str, int],
                bytes_per_image: dict[str, float]) -> None:
    """Raise `DataError` before anything is written when `sizes` images per split, of about
    `bytes_per_image` pixels each, would not fit on the file system that holds `out_dir`."""
    needed = sum(count * (bytes_per_image[split] + RECORD_OVERHEAD)
                 for split, count in sizes.items() if count)
    existing = pathlib.Path(out_dir).absolute()
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if needed > free:
        asked = ", ".join(f"{split} {count:,}" for split, count in sizes.items() if count)
        raise DataError(
            f"{asked} images would take about {needed / 1e9:,.1f} GB, more than the "
            f"{free / 1e9:,.1f} GB free on the disk of {existing}. Pass smaller --train, "
            "--valid and --test, or an --out on a disk with room.")


def _is_leftover(name: str) -> bool:
    """A hidden temporary file or directory that a killed writer left."""
    return name.startswith(".") and (".tmp-" in name or ".old-" in name)


def _check_replaceable(out_dir: pathlib.Path, names: set[str]) -> None:
    """Raise unless `out_dir` is new, or a directory holding only `names` (a previous build)
    and leftovers: replacing it as a whole must not delete anything else."""
    here = pathlib.Path.cwd().resolve()
    if out_dir.resolve() in (here, *here.parents):
        raise DataError(f"{out_dir} is the current directory or holds it; a data directory is "
                        "replaced as a whole, so give it a folder of its own, e.g. --out data.")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise DataError(f"{out_dir} is a file, not a data directory; pass a new or empty "
                        "directory as --out.")
    foreign = sorted(p.name for p in out_dir.iterdir()
                     if p.name not in names and not _is_leftover(p.name))
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise DataError(f"{out_dir} holds {shown}, which `dcn data` does not write. A data "
                        "directory is replaced as a whole; pass a new or empty directory "
                        "as --out.")


@contextlib.contextmanager
def building(out_dir: str | os.PathLike, files: tuple[str, ...]):
    """Yield a hidden temporary directory to write the data `files` and the manifest into
    (`write`); on success it replaces `out_dir` as a whole, on error `out_dir` stays as it
    was. Leftovers of an earlier, killed build of `out_dir` are removed first."""
    out_dir = pathlib.Path(out_dir)
    _check_replaceable(out_dir, {*files, MANIFEST})
    for leftover in atomic.leftovers(out_dir):
        shutil.rmtree(leftover, ignore_errors=True)
    with atomic.atomic_directory(out_dir, replace=True) as tmp:
        yield tmp
        if not (tmp / MANIFEST).is_file():
            raise RuntimeError(f"No {MANIFEST} was written for {out_dir}; call "
                               "manifest.write before the directory is committed.")


def write(directory: pathlib.Path, metadata: dict) -> dict:
    """Add `bytes` and `sha256` to each split of `metadata["splits"]` (whose `file` lies in
    `directory`) and write it to `directory/metadata.json`, last of all. Returns it."""
    for info in metadata["splits"].values():
        path = directory / info["file"]
        info["bytes"] = path.stat().st_size
        info["sha256"] = sha256(path)
    atomic.write_text(directory / MANIFEST, json.dumps(metadata, indent=2))
    return metadata


def load(data_dir: str | os.PathLike) -> dict:
    """The manifest of a data directory, with errors that name the file and the fix."""
    path = os.path.join(str(data_dir), MANIFEST)
    gfile = _gfile()
    if not gfile.exists(path):
        raise DataError(f"{path} does not exist: {data_dir} is not a finished data directory. "
                        "Build it with `dcn data --out DIR`.")
    try:
        with gfile.GFile(path, "r") as stream:
            metadata = json.loads(stream.read())
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{path} is not valid JSON ({error}). Rebuild the directory with "
                        "`dcn data`.") from error
    if not isinstance(metadata, dict) or not isinstance(metadata.get("splits"), dict):
        raise DataError(f"{path} has no `splits`; it is not a manifest written by `dcn data`. "
                        "Rebuild the directory with `dcn data`.")
    return metadata


def dataset(data_dir: str | os.PathLike) -> str | None:
    """The `dataset` a data directory's manifest names, or None where it names none or has
    no readable manifest (`load` and the readers then say what is wrong)."""
    path = os.path.join(str(data_dir), MANIFEST)
    gfile = _gfile()
    if not gfile.exists(path):
        return None
    try:
        with gfile.GFile(path, "r") as stream:
            metadata = json.loads(stream.read())
    except (ValueError, UnicodeDecodeError):
        return None
    found = metadata.get("dataset") if isinstance(metadata, dict) else None
    return str(found) if found is not None else None


def entry(path: str | os.PathLike) -> dict | None:
    """The manifest entry of a data file (by its name, in its directory's manifest), or None
    where the directory has no manifest (e.g. the pipeline's shards). A file that the
    manifest beside it does not list raises `DataError`: its records could not be checked,
    and a split whose entry was lost would be read however short it is."""
    directory, name = os.path.split(str(path))
    if not _gfile().exists(os.path.join(directory or ".", MANIFEST)):
        return None
    splits = load(directory or ".")["splits"]
    for info in splits.values():
        if isinstance(info, dict) and info.get("file") == name:
            return info
    listed = sorted(str(info["file"]) for info in splits.values()
                    if isinstance(info, dict) and "file" in info)
    raise DataError(
        f"{path} is not listed in {MANIFEST} beside it (which lists "
        f"{', '.join(listed) or 'no files'}), so its records cannot be checked: the manifest "
        "was edited, or the file was added after the build. Rebuild the whole directory "
        "with `dcn data --out DIR`.")


def check(path: str | os.PathLike, records: int) -> None:
    """Raise `DataError` unless `path`, found to hold `records` records, matches its entry
    in its directory's manifest (count, then size and sha256 where recorded)."""
    info = entry(path)
    if info is None:
        return
    found = {"images": records}
    if "bytes" in info:
        found["bytes"] = _gfile().stat(str(path)).length
    if "sha256" in info and found.get("bytes") == info.get("bytes"):
        found["sha256"] = sha256(path)
    wrong = [f"{key} {value} (the manifest says {info[key]})"
             for key, value in found.items() if key in info and value != info[key]]
    if wrong:
        raise DataError(
            f"{path} does not match {MANIFEST} beside it: {'; '.join(wrong)}. The file was "
            "cut short, replaced or rebuilt apart from the rest of its directory, and "
            "training on it would silently use other data. Rebuild the whole directory with "
            "`dcn data --out DIR`.")
