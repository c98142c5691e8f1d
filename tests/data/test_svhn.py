import io
import tarfile

import h5py
import numpy as np
import pytest
from PIL import Image

from dcn_keras.data import svhn

MATLAB_HEADER = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Nov 24 00:00:00 2026 "
                 b"HDF5 schema 1.00 .").ljust(116, b" ")


def write_digit_struct(path, images):
    """A digitStruct.mat laid out as MATLAB v7.3 writes it: a 512-byte user block with the
    MATLAB header, data under #refs#, `name` and `bbox` as (N, 1) reference arrays, bbox
    fields inline for one digit and references to (1, 1) scalars for several."""
    with h5py.File(path, "w", userblock_size=512) as file:
        refs = file.create_group("#refs#")
        count = iter(range(10**6))
        names, boxes = [], []
        for name, digits in images:
            chars = refs.create_dataset(f"n{next(count)}",
                                        data=np.array([[ord(c)] for c in name], np.uint16))
            names.append(chars.ref)
            group = refs.create_group(f"b{next(count)}")
            for index, field in enumerate(svhn.FIELDS):
                values = [float(d[index]) for d in digits]
                if len(values) == 1:
                    group.create_dataset(field, data=np.array([[values[0]]]))
                else:
                    scalars = [refs.create_dataset(f"s{next(count)}", data=np.array([[v]])).ref
                               for v in values]
                    group.create_dataset(field, data=np.array(scalars, dtype=h5py.ref_dtype)
                                         .reshape(-1, 1))
            boxes.append(group.ref)
        struct = file.create_group("digitStruct")
        struct.create_dataset("name", data=np.array(names, dtype=h5py.ref_dtype).reshape(-1, 1))
        struct.create_dataset("bbox", data=np.array(boxes, dtype=h5py.ref_dtype).reshape(-1, 1))
    with open(path, "r+b") as file:
        file.write(MATLAB_HEADER)


# (label, left, top, width, height); label 10 is digit 0.
IMAGES = [
    ("1.png", [(1, 24, 7, 8, 22), (9, 32, 8, 9, 22)]),
    ("2.png", [(10, 10, 5, 12, 20)]),
    ("3.png", [(d % 10 + 1, 4 + 10 * d, 3, 9, 16) for d in range(6)]),  # 6 digits: dropped
    ("4.png", [(2, 3, 2, 8, 15), (10, 12, 2, 8, 15), (5, 21, 3, 8, 15)]),
]


def _png(height, width, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return rgb, buffer.getvalue()


@pytest.fixture
def split_dir(tmp_path):
    folder = tmp_path / "test"
    folder.mkdir()
    write_digit_struct(folder / "digitStruct.mat", IMAGES)
    pixels = {}
    for seed, (name, _) in enumerate(IMAGES):
        rgb, data = _png(40 + seed, 70 + seed, seed)
        (folder / name).write_bytes(data)
        pixels[name] = rgb
    return folder, pixels


def test_read_digit_struct_handles_inline_and_referenced_fields(split_dir):
    images = svhn.read_digit_struct(split_dir[0] / "digitStruct.mat")
    assert [image.name for image in images] == ["1.png", "2.png", "3.png", "4.png"]
    assert images[0].digits == (svhn.Digit(1, 24, 7, 8, 22), svhn.Digit(9, 32, 8, 9, 22))
    assert images[1].digits == (svhn.Digit(0, 10, 5, 12, 20),)  # label 10 -> digit 0
    assert [d.label for d in images[3].digits] == [2, 0, 5]
    assert len(images[2].digits) == 6


def test_load_folder_and_archive_alike_with_grayscale_only(split_dir, tmp_path):
    folder, pixels = split_dir
    archive = tmp_path / "test.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="test")
    from_folder, counts = svhn.load(folder)
    from_archive, _ = svhn.load(archive)
    assert counts == {"images": 4, "kept": 3, "dropped_too_long": 1}
    assert [e.digits for e in from_folder] == [(1, 9), (0,), (2, 0, 5)]
    for a, b in zip(from_folder, from_archive):
        assert a.name == b.name and a.digits == b.digits
        np.testing.assert_array_equal(a.image, b.image)
    rgb = pixels["4.png"].astype(np.float64)
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    image = from_folder[2].image
    assert image.dtype == np.uint8 and image.shape == rgb.shape[:2]
    assert np.abs(image - luma).max() <= 1.0
    assert from_folder[2].box == (2, 3, 18, 29)
    assert from_folder[0].box == (7, 24, 30, 41)


def test_sequence_box_is_clipped_to_the_image():
    digits = (svhn.Digit(1, -3, 5, 10, 50), svhn.Digit(2, 60, 4, 20, 10))
    assert svhn.sequence_box(digits, height=40, width=70) == (4, 0, 40, 70)


def test_bad_sources_say_what_to_pass(tmp_path):
    with pytest.raises(svhn.SvhnSourceError, match="neither an SVHN format-1"):
        svhn.load(tmp_path / "missing.tar.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(svhn.SvhnSourceError, match="no digitStruct.mat"):
        svhn.load(tmp_path / "empty")
    (tmp_path / "bad.mat").write_bytes(b"not hdf5")
    with pytest.raises(svhn.SvhnSourceError, match="MATLAB v7.3"):
        svhn.read_digit_struct(tmp_path / "bad.mat")
