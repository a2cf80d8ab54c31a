"""Folders shaped like the ones people have, made on the spot: two classes and a hundred, 16-bit
scans and float images, phone photos with an EXIF orientation, palette, alpha and CMYK files,
a symlink loop, hidden folders, and a folder that changes between two runs. Each test asserts
the exact pixels or labels loaded, or one line and nothing written."""

import json
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from genaug import folder
from genaug.__main__ import main
from genaug.data import FolderError, load_dataset
from genaug.experiment import (
    BudgetJob,
    ConfigError,
    ExperimentConfig,
    minority_classes,
    preset,
    read_rows,
    run_experiment,
    validate,
)
from genaug.pixels import read_image
from genaug.report import experiment_report


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Every test saves its splits in its own cache, outside the folders it makes."""
    monkeypatch.setenv("GENAUG_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def flat_classes(root, values, per_class=3, size=8):
    """One grey class per value, each image flat at it: a loaded pixel names its label."""
    for name, value in values.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.new("L", (size, size), value).save(root / name / f"{name}{i}.png")
    return root


def loaded(root, size=8):
    """Every image of the folder, train then test, as uint8 values, with labels and classes."""
    parts = [load_dataset("folder", s, root=root, size=size) for s in ("train", "test")]
    images = torch.cat([p.images for p in parts]).mul(255).round().to(torch.uint8)
    return images, torch.cat([p.labels for p in parts]), parts[0].classes


def one_line(capsys, code, words):
    err = capsys.readouterr().err.strip()
    assert code == 2, f"exit code {code}, stderr: {err}"
    assert words in err and "\n" not in err and "Traceback" not in err, err


def stretched(values):
    """What the loader makes of a high-bit-depth image: lowest 0, highest 255, NaN 0."""
    values = values.astype(np.float64)
    low, high = np.nanmin(values), np.nanmax(values)
    return np.nan_to_num(np.round((values - low) / (high - low) * 255)).astype(np.uint8)


# ---- pixels as they are ----------------------------------------------------------------------

def test_a_16_bit_scan_is_scaled_by_its_range_not_clipped_at_255(tmp_path):
    scan = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 64)  # 0..4032: a 12-bit scan
    for name, image in (("a", scan), ("b", scan[::-1].copy())):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(image).save(tmp_path / "data" / name / f"{i}.png")
    assert Image.open(tmp_path / "data" / "a" / "0.png").mode.startswith("I")  # 16 bits kept
    images, labels, _ = loaded(tmp_path / "data")
    assert images.shape == (6, 1, 8, 8)  # grey: one channel
    for image, label in zip(images, labels, strict=True):
        expected = stretched(scan if label == 0 else scan[::-1])
        assert np.array_equal(image[0].numpy(), expected), "16-bit pixels were not stretched"
    assert (images == 255).float().mean() < 0.05  # clipping made 97% of them white


@pytest.mark.parametrize("values", [
    np.linspace(-1.0, 3.0, 64, dtype=np.float32).reshape(8, 8),  # mode F: a float image
    (np.arange(64, dtype=np.int32) * 100_000).reshape(8, 8),  # mode I: 32-bit whole numbers
], ids=["float", "32-bit"])
def test_float_and_32_bit_images_are_scaled_by_their_range(values, tmp_path):
    if values.dtype == np.float32:
        values[0, 0] = np.nan  # NaN becomes black; the range is the finite values'
    Image.fromarray(values).save(tmp_path / "image.tif")
    pixels, side = read_image(tmp_path / "image.tif", 8)
    assert side == 8 and np.array_equal(pixels[..., 0], stretched(values))
    assert (pixels[..., 0] == pixels[..., 2]).all()  # grey stays grey


def test_a_flat_16_bit_image_becomes_black(tmp_path):
    Image.fromarray(np.full((8, 8), 1000, dtype=np.uint16)).save(tmp_path / "flat.png")
    assert read_image(tmp_path / "flat.png", 8)[0].max() == 0


@pytest.mark.parametrize("make, rgb", [
    (lambda: Image.new("CMYK", (8, 8), (0, 255, 255, 0)), (255, 0, 0)),  # pure red ink
    (lambda: Image.new("CMYK", (8, 8), (0, 0, 0, 255)), (0, 0, 0)),  # black ink
    (lambda: Image.new("RGBA", (8, 8), (255, 0, 0, 0)), (255, 255, 255)),  # transparent: white
    (lambda: Image.new("RGBA", (8, 8), (0, 0, 255, 255)), (0, 0, 255)),  # opaque: as it is
    (lambda: Image.new("LA", (8, 8), (0, 0)), (255, 255, 255)),  # grey with alpha
], ids=["cmyk red", "cmyk black", "transparent", "opaque", "grey alpha"])
def test_cmyk_and_alpha_are_converted_the_documented_way(make, rgb, tmp_path):
    path = tmp_path / ("image.tif" if make().mode == "CMYK" else "image.png")
    make().save(path)
    pixels, _ = read_image(path, 8)
    assert (pixels == np.array(rgb, dtype=np.uint8)).all()


def test_palette_colours_and_a_transparent_palette_entry(tmp_path):
    image = Image.new("P", (8, 8), 1)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # entry 0 black, entry 1 blue
    image.putpixel((0, 0), 0)
    image.save(tmp_path / "palette.png", transparency=0)  # entry 0 is transparent
    pixels, _ = read_image(tmp_path / "palette.png", 8)
    assert (pixels[0, 0] == 255).all()  # the transparent pixel, on white
    assert (pixels[1:, 1:] == np.array([0, 0, 255])).all()  # the rest keeps its palette blue


def _upright_and_stored():
    """A picture whose top half is white, and the same stored on its side (rotated 90 degrees
    counter-clockwise), as a phone saves it with EXIF orientation 6 ("turn it clockwise")."""
    upright = np.zeros((8, 8), dtype=np.uint8)
    upright[:4] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    return upright, Image.fromarray(np.rot90(upright).copy()), exif


def test_exif_orientation_is_applied(tmp_path):
    upright, stored, exif = _upright_and_stored()
    stored.save(tmp_path / "phone.png", exif=exif)
    pixels, _ = read_image(tmp_path / "phone.png", 8)
    assert np.array_equal(pixels[..., 0], upright)  # exact: PNG is lossless


def test_a_rotated_phone_jpeg_loads_upright(tmp_path):
    upright, stored, exif = _upright_and_stored()
    for name, image in (("a", stored), ("b", Image.fromarray(upright[::-1].copy()))):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(3):
            big = image.resize((64, 64), Image.Resampling.NEAREST).convert("RGB")
            big.save(tmp_path / "photos" / name / f"{i}.jpg", quality=95,
                     exif=exif if name == "a" else Image.Exif())
    images, labels, _ = loaded(tmp_path / "photos")
    top, bottom = images[:, :, :3].float().mean((1, 2, 3)), images[:, :, 5:].float().mean((1, 2, 3))
    assert ((top > 240) == (labels == 0)).all() and ((bottom > 240) == (labels == 1)).all()


def test_sizes_above_512_are_refused_in_one_line(tmp_path, capsys):
    root = flat_classes(tmp_path / "data", {"a": 0, "b": 255}, per_class=2)
    assert load_dataset("folder", "train", root=root, size=512).image_size == 512  # the limit
    with pytest.raises(FolderError, match="Image size 513 is above 512") as error:
        load_dataset("folder", "train", root=root, size=513)
    assert "\n" not in str(error.value)
    one_line(capsys, main(["data", "--data", str(root), "--image-size", "65536"]),
             "Image size 65536 is above 512")
    one_line(capsys, main(["experiment", "--quick", "--data", str(root), "--image-size",
                           "65536", "--out", str(tmp_path / "out")]), "give --image-size")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="image_size must be a multiple of 4 from 8"):
        validate(ExperimentConfig(dataset="folder", data_root=str(root), image_size=1024))


# ---- one image, one label ---------------------------------------------------------------------

def test_a_symlink_loop_and_links_are_read_once(tmp_path, capsys):
    root = flat_classes(tmp_path / "data", {"a": 0, "b": 255})
    os.symlink(".", root / "self")  # the loop: a class holding every image again
    os.symlink("..", root / "a" / "up")  # inside a class, a link back to the top
    os.symlink(root / "b" / "b0.png", root / "a" / "twin.png")  # b0 again, labelled a
    elsewhere = flat_classes(tmp_path / "elsewhere", {"c": 128})
    os.symlink(elsewhere / "c", root / "c")  # a class folder kept elsewhere: read once
    os.symlink(elsewhere / "c", root / "c-again")
    images, labels, classes = loaded(root)
    assert classes == ("a", "b", "c") and len(labels) == 9
    value_of_label = torch.tensor([0, 255, 128], dtype=torch.uint8)
    assert torch.equal(images.flatten(1).amax(1), value_of_label[labels])  # every label right
    assert images.flatten(1).amin(1).tolist() == images.flatten(1).amax(1).tolist()
    out = capsys.readouterr().out
    assert "did not read 4 hidden folder(s) or link(s)" in out


def test_hidden_folders_are_never_read(tmp_path, capsys):
    root = flat_classes(tmp_path / "data", {"a": 0, "b": 255})
    flat_classes(root / ".ipynb_checkpoints", {"a": 255})  # Jupyter's copies beside the classes
    flat_classes(root / "a" / ".thumbnails", {"x": 255})  # white thumbnails inside black a
    flat_classes(root / "a", {".ipynb_checkpoints": 255})
    images, labels, classes = loaded(root)
    assert classes == ("a", "b") and sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
    assert torch.equal(images.flatten(1).amax(1), (labels * 255).to(torch.uint8))
    assert "did not read 3 hidden folder(s) or link(s)" in capsys.readouterr().out


# ---- a folder that changed is named as changed -----------------------------------------------

def _change(root, test_file, how):
    """Remove, move to the other class, or edit one of the saved test images."""
    path = root / test_file
    if how == "removed":
        path.unlink()
    elif how == "moved between classes":
        path.rename(root / ("b" if test_file.startswith("a/") else "a") / path.name)
    else:
        Image.new("L", (8, 8), 7).save(path)
        os.utime(path, ns=(1, 1))


@pytest.mark.parametrize("how", ["removed", "moved between classes", "edited"])
def test_a_saved_split_whose_test_image_changed_stops_in_one_line(how, tmp_path, capsys):
    root = flat_classes(tmp_path / "data", {"a": 0, "b": 255}, per_class=5)
    load_dataset("folder", "test", root=root)
    split = folder.split_file(root)
    saved = split.read_text()
    test_file = json.loads(saved)["test"][0]
    _change(root, test_file, how)
    with pytest.raises(FolderError, match=f"1 test image\\(s\\) {how}") as error:
        load_dataset("folder", "train", root=root)
    assert "\n" not in str(error.value) and "--keep-split" in str(error.value)
    assert test_file in str(error.value) and split.read_text() == saved  # nothing written
    one_line(capsys, main(["data", "--data", str(root)]), f"1 test image(s) {how}")


def test_keep_split_keeps_the_old_test_images_on_purpose(tmp_path, capsys):
    root = flat_classes(tmp_path / "data", {"a": 0, "b": 255}, per_class=5)
    before = load_dataset("folder", "test", root=root)
    test_file = json.loads(folder.split_file(root).read_text())["test"][0]  # an image of a
    _change(root, test_file, "moved between classes")
    assert main(["data", "--data", str(root), "--keep-split"]) == 0
    assert "kept the test split" in capsys.readouterr().out
    after = load_dataset("folder", "test", root=root)
    assert len(after) == len(before)  # the same images are test images
    assert after.class_counts().tolist() == [before.class_counts()[0] - 1,
                                             before.class_counts()[1] + 1]  # under their class
    assert torch.equal(after.images.sort(0).values, before.images.sort(0).values)


def test_a_cache_whose_splits_is_a_file_is_named(tmp_path, capsys):
    root = flat_classes(tmp_path / "data", {"a": 0, "b": 255})
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "splits").write_text("not a folder")
    one_line(capsys, main(["data", "--data", str(root)]), "is a file, not a folder; move it, or "
             "set GENAUG_CACHE to a folder you can write")
    assert (tmp_path / "cache" / "splits").read_text() == "not a folder"
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.name != "splits"]


# ---- any number of classes from 2 -------------------------------------------------------------

def test_minority_classes_are_a_third_of_the_classes_at_least_one():
    assert minority_classes(2) == (0,) and minority_classes(3) == (0,)
    assert minority_classes(10) == (0, 3, 6)
    assert minority_classes(100) == tuple(range(0, 99, 3)) and len(minority_classes(100)) == 33


TINY = ["--seeds", "1", "--methods", "none", "cvae", "--set", "classifier_steps=5",
        "--set", "generator_steps=2", "--set", "n_synthetic=20", "--set", "batch_size=8",
        "--set", "generator_batch_size=8", "--set", "cvae_width=8", "--image-size", "8",
        "--workers", "1"]


def test_quick_experiment_on_two_classes_then_a_changed_folder_is_refused(tmp_path, capsys):
    root = flat_classes(tmp_path / "two", {"healthy": 40, "diseased": 200}, per_class=12)
    config = preset("folder", data_root=str(root), image_size=8)
    assert config.imbalance_minority == (0,)  # of 2 classes, one is the minority
    assert (config.val_per_class, config.budgets) == (2, (8,))  # of 10 training images per
    # class a quarter (2) go to validation; the quick budgets (10, 50) do not fit the 8 left
    run = ["experiment", "--quick", "--data", str(root), "--out", "out", *TINY]
    assert main(run + ["--set", "imbalance_minority=1"]) == 0
    out = capsys.readouterr().out
    assert "Imbalance study: classes [1]" in out and "none" in out
    meta = json.loads((tmp_path / "out" / "config.json").read_text())
    assert meta["config"]["imbalance_minority"] == [1] and meta["config"]["budgets"] == [8]
    assert len(read_rows(tmp_path / "out" / "imbalance.csv")) == 5  # one row per method
    written = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()}
    shutil.copy(root / "healthy" / "healthy0.png", root / "healthy" / "new.png")
    one_line(capsys, main(run + ["--set", "imbalance_minority=1"]),
             "changed since out was started: 1 image(s) added, e.g. healthy/new.png")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()
            if p.is_file()} == written  # nothing written
    job = BudgetJob(preset("folder", data_root=str(root), image_size=8), 8, 0, tmp_path / "out")
    with pytest.raises(ConfigError, match="1 image\\(s\\) added"):
        job.run()  # a job started after the change stops too


def test_a_hundred_classes_load_size_the_preset_and_run(tmp_path):
    values = {f"class{c:03d}": 2 * c for c in range(100)}
    root = flat_classes(tmp_path / "hundred", values, per_class=6, size=4)
    images, labels, classes = loaded(root)
    assert len(classes) == 100 and len(labels) == 600
    assert torch.equal(images.flatten(1).amax(1), (2 * labels).to(torch.uint8))
    config = preset("folder", data_root=str(root), image_size=8)
    assert (config.val_per_class, config.budgets, config.imbalance_per_class) == (1, (4,), 4)
    assert config.imbalance_minority == minority_classes(100)
    tiny = {"seeds": 1, "methods": ("none", "cvae"), "classifier_steps": 5, "batch_size": 8,
            "generator_steps": 2, "generator_batch_size": 8, "n_synthetic": 100,
            "cvae_width": 8}
    results = run_experiment(preset("folder", data_root=str(root), image_size=8, **tiny),
                             tmp_path / "out", workers=1)
    assert len(results.runs) == 2 and len(results.imbalance) == 5
    report = experiment_report(results)
    assert f"Imbalance study: classes {list(minority_classes(100))}" in report
