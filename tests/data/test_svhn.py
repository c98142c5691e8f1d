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


def _folder(tmp_path, images, pngs=None):
    """An SVHN folder with `images` in digitStruct.mat and a PNG for each (or `pngs`)."""
    folder = tmp_path / "split"
    folder.mkdir()
    write_digit_struct(folder / "digitStruct.mat", images)
    for seed, (name, _) in enumerate(images):
        if "/" not in name and name not in ("", ".", ".."):
            (folder / name).write_bytes((pngs or {}).get(name) or _png(40, 70, seed)[1])
    return folder


@pytest.mark.parametrize("label", [11, 0, -1, 2.5])
def test_labels_outside_1_to_10_name_the_file_and_the_label(tmp_path, label):
    folder = _folder(tmp_path, [("1.png", [(3, 1, 1, 8, 20)]),
                                ("2.png", [(1, 1, 1, 8, 20), (label, 10, 1, 8, 20)])])
    with pytest.raises(svhn.SvhnSourceError,
                       match=rf"digitStruct.mat, image '2.png': digit label {label:g} is outside "
                             r"1-10"):
        svhn.read_digit_struct(folder / "digitStruct.mat")


@pytest.mark.parametrize("name", ["../../x.png", "/etc/passwd", "sub/1.png", "..", ""])
def test_names_that_leave_the_folder_are_refused(tmp_path, name):
    (tmp_path / "x.png").write_bytes(_png(40, 70, 0)[1])
    folder = _folder(tmp_path, [(name, [(3, 1, 1, 8, 20)])])
    with pytest.raises(svhn.SvhnSourceError, match="is not a plain file name"):
        svhn.load(folder)
    # The folder reader refuses such names too, whoever built the image list.
    source = svhn.open_source(folder)
    with pytest.raises(svhn.SvhnSourceError, match="is not a plain file name"):
        svhn.to_example(source, svhn.SvhnImage(name, (svhn.Digit(3, 1, 1, 8, 20),)), folder)


@pytest.mark.parametrize("box", [(3, 10, 5, -4, 20), (3, 10, 5, 8, -20)])
def test_a_box_with_negative_width_or_height_is_an_error(tmp_path, box):
    folder = _folder(tmp_path, [("1.png", [box])])
    with pytest.raises(svhn.SvhnSourceError, match="'1.png': digit box with width"):
        svhn.load(folder)


def test_boxes_outside_the_image_are_an_error_not_an_empty_box(tmp_path):
    folder = _folder(tmp_path, [("1.png", [(3, 500, 5, 8, 20)])])  # the image is 40x70
    with pytest.raises(svhn.SvhnSourceError, match=r"boxes of 1.png lie outside its 40x70"):
        svhn.load(folder)


def test_a_digit_struct_without_bbox_names_the_file(tmp_path):
    path = tmp_path / "digitStruct.mat"
    with h5py.File(path, "w") as file:
        file.create_group("digitStruct").create_dataset("name", data=np.zeros((1, 1)))
    with pytest.raises(svhn.SvhnSourceError,
                       match=rf"{path} has no digitStruct/bbox; it is not SVHN's"):
        svhn.read_digit_struct(path)


def test_a_bbox_without_a_field_names_the_image(tmp_path):
    path = tmp_path / "digitStruct.mat"
    write_digit_struct(path, [("1.png", [(3, 1, 1, 8, 20)])])
    with h5py.File(path, "r+") as file:
        box = file[np.ravel(file["digitStruct/bbox"][()])[0]]
        del box["label"]
    with pytest.raises(svhn.SvhnSourceError, match="image '1.png': bbox lacks label"):
        svhn.read_digit_struct(path)


def test_names_and_bboxes_of_different_counts_are_an_error(tmp_path):
    path = tmp_path / "digitStruct.mat"
    write_digit_struct(path, [("1.png", [(3, 1, 1, 8, 20)]), ("2.png", [(3, 1, 1, 8, 20)])])
    with h5py.File(path, "r+") as file:
        names = file["digitStruct/name"][()]
        del file["digitStruct/name"]
        file["digitStruct"].create_dataset("name", data=names[:1])
    with pytest.raises(svhn.SvhnSourceError, match="lists 1 names but 2 bboxes"):
        svhn.read_digit_struct(path)


@pytest.mark.parametrize("data, kind", [(b"not an image at all", "UnidentifiedImageError"),
                                        (_png(40, 70, 0)[1][:300], "OSError")])
def test_an_image_that_does_not_decode_names_the_file(tmp_path, data, kind):
    folder = _folder(tmp_path, [("1.png", [(3, 1, 1, 8, 20)])], pngs={"1.png": data})
    with pytest.raises(svhn.SvhnSourceError,
                       match=rf"{folder}: 1.png does not decode as an image \({kind}"):
        svhn.load(folder)


def test_archive_errors_name_the_archive(tmp_path):
    folder = _folder(tmp_path, [("1.png", [(11, 1, 1, 8, 20)])])
    archive = tmp_path / "test.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="test")
    with pytest.raises(svhn.SvhnSourceError,
                       match=r"test.tar.gz:digitStruct.mat, image '1.png': digit label 11"):
        svhn.load(archive)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[:len(archive.read_bytes()) // 2])
    with pytest.raises(svhn.SvhnSourceError, match="cut.tar.gz"):
        svhn.load(cut)


@pytest.mark.parametrize("second", ["other/1.png", "test/1.png"])
def test_two_archive_members_of_one_name_are_refused(tmp_path, second):
    """Images are looked up by file name: `other/1.png` beside `test/1.png` (or the same path
    appended twice) would make the later one win without a word."""
    folder = _folder(tmp_path, [("1.png", [(3, 1, 1, 8, 20)])])
    archive = tmp_path / "test.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="test")
        tar.add(folder / "1.png", arcname=second)
    with pytest.raises(svhn.SvhnSourceError,
                       match=rf"test.tar.gz holds two files named 1.png: test/1.png and "
                             rf"{second}\. .*pass the archive as downloaded"):
        svhn.load(archive)


def test_a_missing_image_names_the_source(tmp_path):
    folder = _folder(tmp_path, [("1.png", [(3, 1, 1, 8, 20)])])
    (folder / "1.png").unlink()
    with pytest.raises(svhn.SvhnSourceError, match="lists 1.png in digitStruct.mat but does "
                                                   "not hold it"):
        svhn.load(folder)


@pytest.mark.parametrize("limit", [0, -1, 1.5])
def test_a_bad_limit_is_refused(split_dir, limit):
    with pytest.raises(ValueError, match="limit is the number of images"):
        svhn.load(split_dir[0], limit=limit)
