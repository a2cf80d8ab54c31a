"""Your own images: a folder of colour images generated on the spot is loaded once as tensors,
split reproducibly, refused with one line when it cannot work, and runs the experiment."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from genaug import cifar, folder
from genaug.data import FolderError, load_dataset
from genaug.toyfolder import make_shapes_folder

CLASSES = ("circle", "square", "stripes")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Every test saves its splits in its own cache, never the user's."""
    monkeypatch.setenv("GENAUG_CACHE", str(tmp_path / ".cache"))  # hidden: no class


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Ten classes of coloured shapes and textures, 20 PNGs of 32x32 each."""
    return make_shapes_folder(tmp_path_factory.mktemp("shapes"), per_class=20)


def small_folder(path, classes=CLASSES, per_class=10, size=32):
    """A copy-free little folder of three classes (built fresh, so a test may spoil it)."""
    return make_shapes_folder(path, per_class=per_class, size=size, classes=classes)


def test_colour_folder_loads_as_rgb_tensors_with_a_stratified_test_share(shapes):
    train = load_dataset("folder", "train", root=shapes)
    test = load_dataset("folder", "test", root=shapes)
    assert train.channels == test.channels == 3 and train.image_size == 32
    assert train.images.dtype == torch.float32 and 0 <= train.images.min() <= 1
    assert train.classes == tuple(sorted(train.classes)) and train.n_classes == 10
    assert train.class_counts().tolist() == [16] * 10  # 20% of 20 held out per class
    assert test.class_counts().tolist() == [4] * 10


def test_split_is_saved_and_reused_when_images_are_added(tmp_path):
    root = small_folder(tmp_path / "data")
    first = load_dataset("folder", "test", root=root)
    saved = json.loads(folder.split_file(root).read_text())
    assert len(saved["test"]) == len(first) == 6 and saved["classes"] == sorted(CLASSES)
    Image.new("RGB", (32, 32), "red").save(root / "circle" / "new.png")
    again_test = load_dataset("folder", "test", root=root)
    again_train = load_dataset("folder", "train", root=root)
    assert torch.equal(again_test.images, first.images)  # the test set never moves
    assert len(again_train) == 3 * 10 + 1 - 6  # the new image went to training


def test_the_split_is_the_same_in_a_fresh_cache(tmp_path, monkeypatch):
    root = small_folder(tmp_path / "data")
    first = load_dataset("folder", "test", root=root)
    monkeypatch.setenv("GENAUG_CACHE", str(tmp_path / "other-cache"))
    assert torch.equal(load_dataset("folder", "test", root=root).images, first.images)


def test_train_and_test_subfolders_are_used_as_given(tmp_path):
    small_folder(tmp_path / "data" / "train", per_class=6)
    small_folder(tmp_path / "data" / "test", per_class=3)
    train = load_dataset("folder", "train", root=tmp_path / "data")
    test = load_dataset("folder", "test", root=tmp_path / "data")
    assert train.class_counts().tolist() == [6] * 3 and test.class_counts().tolist() == [3] * 3
    assert not folder.split_file(tmp_path / "data").exists()  # nothing to hold out


def test_grey_folder_gives_one_channel_and_size_is_honoured(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(4):
            Image.new("L", (40 + i, 30), 60 * i).save(tmp_path / c / f"{i}.png")
    data = load_dataset("folder", "train", root=tmp_path, size=28)
    assert data.channels == 1 and data.images.shape[-2:] == (28, 28)


def test_mixed_sizes_modes_and_transparency_become_one_rgb_tensor(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        Image.new("L", (50, 70), 128).save(tmp_path / c / "grey.png")
        Image.new("RGB", (64, 48), "blue").save(tmp_path / c / "photo.jpg")
        Image.new("RGBA", (40, 40), (255, 0, 0, 0)).save(tmp_path / c / "clear.png")
        Image.new("P", (36, 36), 3).save(tmp_path / c / "palette.webp")
    data = load_dataset("folder", "train", root=tmp_path)
    both = torch.cat([data.images, load_dataset("folder", "test", root=tmp_path).images])
    assert data.channels == 3 and both.shape[1:] == (3, 32, 32) and len(both) == 8
    grey = both[(both[:, 0] - both[:, 2]).abs().amax((1, 2)) < 0.02]
    assert len(grey) >= 4  # the grey and the transparent (white) images stay grey in RGB
    blue = (both[:, 2] > 0.9) & (both[:, 0] < 0.1)
    assert blue.flatten(1).all(1).sum() == 2  # the two JPEG photos, blue to the edges


def test_centre_crop_keeps_the_middle_of_a_wide_image(tmp_path):
    wide = np.zeros((32, 96, 3), dtype=np.uint8)
    wide[:, 32:64] = 255  # white middle third, black sides
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(2):
            Image.fromarray(wide).save(tmp_path / c / f"{i}.png")
    images = load_dataset("folder", "train", root=tmp_path).images
    assert images.shape[1] == 1 and images.min() > 0.95  # a grey folder, all middle


def test_small_images_are_upscaled_with_a_notice(tmp_path, capsys):
    small_folder(tmp_path / "data", per_class=3, size=16)
    data = load_dataset("folder", "train", root=tmp_path / "data", size=32)
    assert data.image_size == 32
    assert "smaller than 32 pixels (the smallest side is 16); they were upscaled" in \
        capsys.readouterr().out


def test_unreadable_and_non_image_files_are_skipped_with_a_count(tmp_path, capsys):
    root = small_folder(tmp_path / "data", per_class=5)
    (root / "circle" / "broken.png").write_bytes(b"not a png")
    (root / "square" / "notes.txt").write_text("hello")
    (root / "square" / ".DS_Store").write_bytes(b"\0")
    train = load_dataset("folder", "train", root=root)
    out = capsys.readouterr().out
    assert "skipped 1 file(s)" in out and "square/notes.txt" in out
    assert "skipped 1 image file(s)" in out and "circle/broken.png" in out
    assert len(train) + len(load_dataset("folder", "test", root=root)) == 15


def test_cifar10_offline_names_how_to_allow_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAUG_DATA", str(tmp_path))
    monkeypatch.setenv("GENAUG_DOWNLOAD", "0")
    with pytest.raises(FileNotFoundError, match="GENAUG_DOWNLOAD=1") as error:
        load_dataset("cifar10", "train")
    assert "\n" not in str(error.value)


def test_cifar10_downloads_through_torchvision_only_when_allowed(tmp_path, monkeypatch):
    calls = []

    class FakeCIFAR10:  # stands in for torchvision's: no network in tests
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            self.data = np.zeros((2, 32, 32, 3), dtype=np.uint8)
            self.targets = [1, 9]

    import torchvision
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    monkeypatch.setenv("GENAUG_DATA", str(tmp_path))
    cifar._load.cache_clear()
    data = load_dataset("cifar10", "test", download=True)
    cifar._load.cache_clear()
    assert calls == [(str(tmp_path), False, True)]
    assert data.channels == 3 and data.classes[1] == "automobile" and len(data) == 2


def _spoil(root, case):
    """Turn a good little folder into one of the bad ones."""
    if case == "missing":
        shutil.rmtree(root)
    elif case == "a file":
        shutil.rmtree(root)
        root.write_text("x")
    elif case == "empty":
        shutil.rmtree(root)
        root.mkdir()
    elif case == "loose images":
        for c in CLASSES:
            for p in (root / c).iterdir():
                p.rename(root / f"{c}-{p.name}")
            (root / c).rmdir()
    elif case == "one class":
        for c in CLASSES[1:]:
            shutil.rmtree(root / c)
    elif case == "class without images":
        shutil.rmtree(root / "square")
        (root / "square").mkdir()
        (root / "square" / "readme.txt").write_text("todo")
    elif case == "class of broken images":
        for p in (root / "square").iterdir():
            p.write_bytes(b"broken")


BAD_FOLDERS = [
    ("missing", "does not exist; give a folder with one subfolder of images per class"),
    ("a file", "is a file, not a folder"),
    ("empty", "holds no class folders; it needs one subfolder of images per class"),
    ("loose images", "holds images but no class folders"),
    ("one class", "has one class folder (circle); a classifier needs two or more"),
    ("class without images", "Class 'square'"),
    ("class of broken images", "Class 'square' has no readable image (10 file(s)"),
]


@pytest.mark.parametrize("case, words", BAD_FOLDERS, ids=[c for c, _ in BAD_FOLDERS])
def test_bad_folders_are_refused_with_one_line(case, words, tmp_path):
    root = small_folder(tmp_path / "data")
    _spoil(root, case)
    with pytest.raises(FolderError) as error:
        load_dataset("folder", "train", root=root)
    assert words in str(error.value) and "\n" not in str(error.value)
