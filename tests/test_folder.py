"""Your own images: a folder of colour images generated on the spot is loaded once as tensors,
split reproducibly, refused with one line when it cannot work, and runs the experiment."""

import json
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from genaug import cifar, folder
from genaug.__main__ import main
from genaug.augment import colour_jitter, config_for
from genaug.data import FolderError, ImageDataset, load_dataset
from genaug.device import make_generator
from genaug.experiment import ExperimentConfig, read_rows, train_generator
from genaug.models.classifier import ClassifierConfig, SmallCNN
from genaug.toyfolder import make_shapes_folder
from genaug.train import fit_classifier

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


def test_cifar10_reads_the_folder_torchvisions_download_unpacks(tmp_path, monkeypatch):
    """The real reading path, offline: torchvision's own CIFAR10 on a tiny folder in the
    layout its download unpacks (its MD5 checks, which only the real files pass, switched off)."""
    import torchvision

    base = tmp_path / cifar.BASE_FOLDER
    base.mkdir()
    rng = np.random.default_rng(0)
    batches = {name: rng.integers(0, 256, (10, 3 * 32 * 32), dtype=np.uint8)
               for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]}
    for name, pixels in batches.items():  # CIFAR's format: rows of R, G, B planes
        (base / name).write_bytes(pickle.dumps({"data": pixels, "labels": list(range(10))}))
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": list(cifar.CIFAR_CLASSES)}))
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args: True)
    monkeypatch.setenv("GENAUG_DOWNLOAD", "0")
    cifar._load.cache_clear()
    test = load_dataset("cifar10", "test", root=tmp_path)
    train = load_dataset("cifar10", "train", root=tmp_path)
    cifar._load.cache_clear()
    assert (len(train), len(test), test.channels, test.images.shape[-1]) == (50, 10, 3, 32)
    expected = torch.from_numpy(batches["test_batch"].reshape(10, 3, 32, 32)).float() / 255
    assert torch.equal(test.images, expected), "the colour planes were not read back as NCHW"
    assert test.labels.tolist() == list(range(10)) and test.classes[1] == "automobile"


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


def _one_line(capsys, code: int, words: str) -> None:
    err = capsys.readouterr().err.strip()
    assert code == 2, f"exit code {code}, stderr: {err}"
    assert words in err and "\n" not in err and "Traceback" not in err, err


TINY = ["--set", "classifier_steps=5", "--set", "generator_steps=2", "--set", "n_synthetic=20",
        "--no-imbalance"]
VAL = ["--set", "val_per_class=3"]


@pytest.mark.parametrize("case, words", BAD_FOLDERS, ids=[c for c, _ in BAD_FOLDERS])
def test_cli_refuses_a_bad_folder_with_one_line_and_writes_nothing(case, words, tmp_path,
                                                                   capsys):
    root = small_folder(tmp_path / "data")
    _spoil(root, case)
    out = tmp_path / "out"
    code = main(["experiment", "--quick", "--data", str(root), "--budgets", "2", "--seeds", "1",
                 "--methods", "none", "--out", str(out), *TINY, *VAL])
    _one_line(capsys, code, words)
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["--budgets", "8", *VAL], "budget 8 does not fit"),  # 10 images: 2 test, 3 val, 5 left
    (["--budgets", "2", "--image-size", "30", *VAL], "image_size must be a multiple of 4"),
    (["--budgets", "2", "--set", "val_per_class=8"], "leaves no training image in the smallest"),
], ids=["budget above a class", "image size the models cannot halve", "validation too big"])
def test_cli_refuses_settings_the_folder_cannot_hold(args, words, tmp_path, capsys):
    root = small_folder(tmp_path / "data")
    out = tmp_path / "out"
    code = main(["experiment", "--quick", "--data", str(root), "--seeds", "1", "--methods",
                 "none", "--out", str(out), *args, *TINY])
    _one_line(capsys, code, words)
    assert not out.exists()


def test_cli_names_the_folder_options_instead_of_set(tmp_path, capsys):
    code = main(["experiment", "--quick", "--dataset", "digits", "--set", "data_root=x"])
    _one_line(capsys, code, "use the option --data")
    code = main(["experiment", "--quick", "--dataset", "digits", "--image-size", "32"])
    _one_line(capsys, code, "name the folder with --data")


def test_a_bad_folder_exits_2_from_a_real_process(tmp_path):
    env = {**os.environ, "GENAUG_CACHE": str(tmp_path / ".cache"), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "genaug", "data", "--data",
                          str(tmp_path / "nowhere")], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "does not exist" in run.stderr


def test_cli_data_describes_a_folder(shapes, capsys):
    assert main(["data", "--data", str(shapes)]) == 0
    out = capsys.readouterr().out
    assert "160 train / 40 test colour (RGB) images at 32x32, 10 classes" in out
    assert "circle: 16 train, 4 test" in out and "held out, listed in" in out


@pytest.mark.parametrize("size", [28, 32])
def test_every_model_trains_and_samples_on_colour(size):
    data = ImageDataset(torch.rand(8, 3, size, size), torch.arange(8) % 4, tuple("abcd"), "x")
    config = ExperimentConfig(dataset="folder", data_root="x", image_size=size,
                              cvae_width=8, gan_width=8, diffusion_width=8,
                              diffusion_sample_steps=2, generator_steps=2, generator_batch_size=4)
    for kind in ("cvae", "cgan", "cdiff"):
        model, _ = train_generator(kind, data, config, seed=0)
        assert model.sample(4, labels=torch.arange(4)).shape == (4, 3, size, size), kind
    classifier = SmallCNN(ClassifierConfig(n_classes=4, width=8, channels=3))
    fit_classifier(classifier, data, 2, batch_size=4)
    assert classifier(data.images)[0].shape == (8, 4)


def test_colour_jitter_is_seeded_per_image_and_leaves_grey_images_grey():
    x = torch.rand(16, 3, 8, 8)
    first = colour_jitter(x, make_generator(0), 0.3)
    assert torch.equal(first, colour_jitter(x, make_generator(0), 0.3))
    assert 0 <= first.min() and first.max() <= 1 and not torch.allclose(first, x)
    ratio = (first.mean((1, 2, 3)) / x.mean((1, 2, 3)))
    assert ratio.std() > 0.01  # each image gets its own factors
    grey = torch.rand(4, 1, 8, 8).expand(4, 3, 8, 8)
    out = colour_jitter(grey, make_generator(1), 0.3)
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])
    assert torch.allclose(colour_jitter(x, make_generator(0), 0.0), x, atol=1e-6)


def test_colour_data_gets_jitter_and_grey_data_does_not():
    assert config_for("folder", channels=3).jitter > 0 and config_for("folder", 3).hflip
    assert config_for("fashion_mnist").jitter == 0 and not config_for("digits").hflip


def test_quick_experiment_runs_on_a_colour_folder_from_the_command_line(tmp_path, monkeypatch,
                                                                         capsys):
    root = make_shapes_folder(tmp_path / "shapes", per_class=12, classes=CLASSES)
    monkeypatch.chdir(tmp_path)
    code = main(["experiment", "--quick", "--data", str(root), "--budgets", "4", "--seeds", "3",
                 "--methods", "none", "classical", "cvae", "cgan", "--ratio", "0.5", *TINY, *VAL])
    out = capsys.readouterr().out
    assert code == 0, out
    folder_out = tmp_path / "results" / "quick-shapes"
    meta = json.loads((folder_out / "config.json").read_text())
    assert meta["config"]["dataset"] == "folder" and meta["config"]["image_size"] == 32
    assert meta["config"]["data_root"] == str(root.resolve())
    rows = read_rows(folder_out / "runs.csv")
    assert len(rows) == 4 * 3 and {r["method"] for r in rows} == {"none", "classical", "cvae",
                                                                    "cgan"}
    assert "95% CI" in out or "[" in out


def test_a_regenerated_shapes_folder_draws_a_new_split_instead_of_refusing(tmp_path):
    root = make_shapes_folder(tmp_path / "shapes", per_class=12, classes=CLASSES)
    first = folder.load_folder(root, "test", size=16)
    shutil.rmtree(root)  # a learner clears the quick cache but not the saved splits
    again = folder.load_folder(make_shapes_folder(root, per_class=12, classes=CLASSES), "test",
                               size=16)
    assert len(again) == len(first)
