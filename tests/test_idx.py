"""IDX files: one folder for all four, checksums of their content, and one-line errors."""

import gzip
import shutil

import numpy as np
import pytest

from genaug import data
from genaug.__main__ import main
from genaug.idx import CONTENT_SHA256, IDX_FILES, DataFileError, read_idx
from tests.test_data import write_fake_split, write_idx

DEBIAN = data.DEBIAN_DIRS["fashion_mnist"]
needs_fashion = pytest.mark.skipif(not (DEBIAN / "t10k-labels-idx1-ubyte.gz").is_file(),
                                   reason="Debian's dataset-fashion-mnist is not installed")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Empty lookup folders, and the checksums on (as for a learner)."""
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "torchvision"))
    monkeypatch.setitem(data.DEBIAN_DIRS, "fashion_mnist", tmp_path / "debian")
    monkeypatch.delenv("GENAUG_VERIFY_DATA", raising=False)
    read_idx.cache_clear()
    yield tmp_path
    read_idx.cache_clear()


def test_every_dataset_records_a_checksum_for_each_of_its_four_files():
    stems = {s for pair in IDX_FILES.values() for s in pair}
    for sums in CONTENT_SHA256.values():
        assert set(sums) == stems and all(len(v) == 64 for v in sums.values())


def test_fake_files_fail_the_checksum_unless_accepted(offline, monkeypatch, capsys):
    write_fake_split(offline / "mine", "train")
    with pytest.raises(DataFileError, match="damaged or another dataset.*GENAUG_VERIFY_DATA=0"):
        data.load_dataset("mnist", "train", root=offline / "mine")
    monkeypatch.setenv("GENAUG_VERIFY_DATA", "0")
    assert len(data.load_dataset("mnist", "train", root=offline / "mine")) == 20


def test_a_root_with_only_the_train_files_is_not_half_used(offline):
    folder = offline / "half"
    write_fake_split(folder, "train")
    for stem in IDX_FILES["test"]:
        (folder / f"{stem}.gz").unlink()
    assert data.find_dataset("mnist", root=folder) is None
    with pytest.raises(data.DatasetNotFoundError):
        data.load_dataset("mnist", "train", root=folder, download=False)


@pytest.mark.parametrize("damage, words", [
    (lambda p: p.write_bytes(p.read_bytes()[:-40]), "is not a complete gzip file"),
    (lambda p: p.write_bytes(b"plain text, not gzip"), "is not a complete gzip file"),
])
def test_broken_gzip_streams_give_one_line_naming_the_file(damage, words, offline, monkeypatch,
                                                           capsys):
    monkeypatch.setenv("GENAUG_VERIFY_DATA", "0")
    write_fake_split(offline / "torchvision" / "MNIST" / "raw", "train", n=400)
    target = offline / "torchvision" / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    damage(target)
    with pytest.raises(DataFileError, match=words):
        data.load_dataset("mnist", "train")
    assert main(["data"]) == 2
    err = capsys.readouterr().err.strip()
    assert str(target) in err and words in err and "\n" not in err


def test_labels_outside_the_classes_are_refused(offline, monkeypatch):
    monkeypatch.setenv("GENAUG_VERIFY_DATA", "0")
    folder = offline / "labels"
    write_fake_split(folder, "train")
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    write_idx(folder / "train-labels-idx1-ubyte", np.full(20, 200))
    with pytest.raises(DataFileError, match="holds label 200, but mnist has classes 0..9"):
        data.load_dataset("mnist", "train", root=folder)


@needs_fashion
def test_fashion_files_placed_as_mnist_are_named_as_fashion(offline):
    folder = offline / "torchvision" / "MNIST" / "raw"
    folder.mkdir(parents=True)
    for path in DEBIAN.glob("*.gz"):
        (folder / path.name).symlink_to(path)
    with pytest.raises(DataFileError, match="is fashion_mnist's file, not mnist's"):
        data.load_dataset("mnist", "test")


@needs_fashion
def test_a_damaged_copy_of_fashion_mnist_is_caught(offline):
    folder = offline / "copy"
    folder.mkdir()
    for path in DEBIAN.glob("*.gz"):
        shutil.copy(path, folder / path.name)
    labels = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    flipped = labels[:-1] + bytes([(labels[-1] + 1) % 10])  # one label changed
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(flipped))
    assert len(data.load_dataset("fashion_mnist", "train", root=folder)) == 60000
    with pytest.raises(DataFileError, match="t10k-labels.*is damaged or another dataset"):
        data.load_dataset("fashion_mnist", "test", root=folder)


def test_genaug_data_says_where_both_splits_came_from(capsys):
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "digits: 1438 train / 359 test images of 8x8, from scikit-learn" in out
