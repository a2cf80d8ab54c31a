"""Datasets as tensors: loading, offline lookup and errors, IDX parsing, subsets, DeviceLoader."""

import gzip

import numpy as np
import pytest
import torch

from genaug import data
from genaug.augment import AugmentConfig
from genaug.data import (
    DatasetNotFoundError,
    DeviceLoader,
    ImageDataset,
    batches,
    imbalanced_subset,
    load_dataset,
    stratified_indices,
    stratified_subset,
)
from genaug.idx import IDX_FILES


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits: always available, no download."""
    return load_dataset("digits", "train")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Point every place the loader looks at empty folders, so no test depends on the machine."""
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "torchvision"))
    monkeypatch.setitem(data.DEBIAN_DIRS, "fashion_mnist", tmp_path / "debian")
    monkeypatch.setenv("GENAUG_VERIFY_DATA", "0")  # fake files cannot match the checksums
    return tmp_path


def write_idx(path, array: np.ndarray, compress: bool = True, truncate: int = 0) -> None:
    """Write ``array`` (uint8) as an IDX file: magic 0,0,8,ndim, the sizes, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    payload = payload[: len(payload) - truncate]
    if compress:
        with gzip.open(f"{path}.gz", "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def write_fake_split(folder, split="train", n=20, size=4, compress=True, truncate=0):
    """A tiny IDX dataset (both splits: a dataset's four files come from one folder) with
    ``n`` images of ``size`` x ``size`` and labels 0..9 repeated; returns ``split``'s arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    images = np.arange(n * size * size, dtype=np.int64).reshape(n, size, size) % 256
    labels = np.arange(n) % 10
    for name, (image_stem, label_stem) in IDX_FILES.items():
        write_idx(folder / image_stem, images, compress, truncate if name == split else 0)
        write_idx(folder / label_stem, labels, compress)
    return images, labels


def test_digits_shapes_and_range(digits):
    test = load_dataset("digits", "test")
    assert digits.images.shape == (1438, 1, 8, 8) and test.images.shape == (359, 1, 8, 8)
    assert digits.images.dtype == torch.float32 and digits.labels.dtype == torch.int64
    assert digits.images.min() == 0.0 and digits.images.max() == 1.0
    assert digits.labels.unique().tolist() == list(range(10))
    assert digits.classes == tuple("0123456789") and digits.image_size == 8


def test_fashion_mnist_shapes_and_range():
    if data.find_dataset("fashion_mnist") is None:
        pytest.skip("Fashion-MNIST files not found (install dataset-fashion-mnist or set "
                    "GENAUG_DATA); the digits tests cover the same code paths")
    test = load_dataset("fashion_mnist", "test")
    assert test.images.shape == (10000, 1, 28, 28)
    assert test.images.min() == 0.0 and test.images.max() == 1.0
    assert test.class_counts().tolist() == [1000] * 10
    assert test.classes[0] == "T-shirt/top" and test.classes[9] == "Ankle boot"


def test_missing_mnist_lists_where_it_looked_and_how_to_get_it(offline):
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("mnist", "train", root=offline / "mine", download=False)
    message = str(error.value)
    assert "mnist (train split) was not found" in message
    for folder in (offline / "mine", offline / "torchvision" / "MNIST" / "raw"):
        assert f"  - {folder}\n" in message
    assert "download=True" in message and "GENAUG_DATA" in message
    assert "load_dataset('digits')" in message
    assert "apt-get" not in message  # Debian packages Fashion-MNIST only


def test_missing_fashion_mnist_names_the_debian_package(offline):
    assert data.find_dataset("fashion_mnist") is None
    assert data.default_dataset() == "digits"
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist") as err:
        load_dataset("fashion_mnist", "test", download=False)
    assert str(offline / "debian") in str(err.value)


@pytest.mark.parametrize("compress", [True, False])
def test_fake_idx_folder_loads(offline, compress):
    folder = offline / "fake"
    images, labels = write_fake_split(folder, "train", compress=compress)
    data_set = load_dataset("mnist", "train", root=folder)
    assert data_set.images.shape == (20, 1, 4, 4)
    assert torch.allclose(data_set.images[:, 0], torch.from_numpy(images / 255.0).float())
    assert data_set.labels.tolist() == labels.tolist()
    assert data.find_dataset("mnist", root=folder) == folder


def test_torchvision_layout_is_found(offline):
    write_fake_split(offline / "torchvision" / "MNIST" / "raw", "test")
    assert load_dataset("mnist", "test").images.shape == (20, 1, 4, 4)


def test_truncated_idx_file_gives_a_clear_error(offline):
    folder = offline / "broken"
    write_fake_split(folder, "train", truncate=7)
    with pytest.raises(ValueError, match="truncated or corrupt.*replace it"):
        load_dataset("mnist", "train", root=folder)


def test_foreign_file_is_not_taken_for_idx(offline):
    folder = offline / "foreign"
    write_fake_split(folder, "train")
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"<html>not found</html>")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        load_dataset("mnist", "train", root=folder)


def test_unknown_name_and_split():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar'.*fashion_mnist, mnist, digits"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="Unknown split 'valid'.*'train' or 'test'"):
        load_dataset("digits", "valid")


def test_image_dataset_checks_shapes():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) with C = 1 or 3.*unsqueeze\(1\)"):
        ImageDataset(torch.zeros(4, 8, 8), torch.zeros(4, dtype=torch.long), ("a",), "x")
    with pytest.raises(ValueError, match="C = 1 or 3"):
        ImageDataset(torch.zeros(4, 2, 8, 8), torch.zeros(4, dtype=torch.long), ("a",), "x")
    with pytest.raises(ValueError, match="labels must have shape"):
        ImageDataset(torch.zeros(4, 1, 8, 8), torch.zeros(3, dtype=torch.long), ("a",), "x")


def test_stratified_subset_counts_and_seeds(digits):
    subset = stratified_subset(digits, per_class=7, seed=0)
    assert subset.class_counts().tolist() == [7] * 10
    assert len(subset) == 70 and subset.images.shape == (70, 1, 8, 8)
    again = stratified_indices(digits.labels, 7, seed=0)
    assert torch.equal(again, stratified_indices(digits.labels, 7, seed=0))
    assert not torch.equal(again, stratified_indices(digits.labels, 7, seed=1))
    larger = stratified_indices(digits.labels, 20, seed=0)
    assert set(again.tolist()) <= set(larger.tolist())  # a smaller budget grows into a larger one


def test_stratified_indices_respect_exclude(digits):
    excluded = stratified_indices(digits.labels, 50, seed=3)
    chosen = stratified_indices(digits.labels, 50, seed=4, exclude=excluded)
    assert not set(chosen.tolist()) & set(excluded.tolist())


def test_stratified_subset_too_large_says_how_many_exist(digits):
    smallest = int(digits.class_counts().min())
    with pytest.raises(ValueError, match=rf"Asked for {smallest + 1} images .* only \d+ are"):
        stratified_subset(digits, per_class=smallest + 1)


def test_imbalanced_subset_counts(digits):
    base = stratified_subset(digits, per_class=50, seed=0)
    cut = imbalanced_subset(base, minority=[2, 5], fraction=0.1, seed=0)
    expected = [50] * 10
    expected[2] = expected[5] = 5
    assert cut.class_counts().tolist() == expected
    assert imbalanced_subset(base, [3], 0.001).class_counts()[3] == 1  # never empty
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        imbalanced_subset(base, [3], 0.0)
    with pytest.raises(ValueError, match=r"Classes \[10\] do not exist"):
        imbalanced_subset(base, [10], 0.5)


def test_device_loader_yields_every_index_once_per_epoch():
    index = torch.arange(103)
    loader = DeviceLoader(index, index * 2, batch_size=10, seed=0)
    epochs = []
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == len(loader) == 11
        assert [len(b[0]) for b in batches] == [10] * 10 + [3]
        assert all(torch.equal(y, x * 2) for x, y in batches)  # tensors stay aligned
        seen = torch.cat([x for x, _ in batches])
        assert torch.equal(seen.sort().values, index)
        epochs.append(seen)
    assert not torch.equal(epochs[0], epochs[1])  # a fresh shuffle each epoch


def test_device_loader_batch_shapes_drop_last_and_order(digits):
    loader = DeviceLoader(digits.images, digits.labels, batch_size=100, drop_last=True)
    batches = list(loader)
    assert len(loader) == len(batches) == len(digits) // 100
    assert all(x.shape == (100, 1, 8, 8) and y.shape == (100,) for x, y in batches)
    ordered = DeviceLoader(torch.arange(10), batch_size=4, shuffle=False)
    assert [b[0].tolist() for b in ordered] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    stream = ordered.forever()
    assert [next(stream)[0].tolist() for _ in range(4)][-1] == [0, 1, 2, 3]  # next epoch


def test_batches_go_on_past_an_epoch_and_repeat_for_a_seed():
    index = torch.arange(50)
    images = (index / 50).view(50, 1, 1, 1).expand(50, 1, 8, 8).clone()  # image i is all i/50
    numbered = ImageDataset(images, index % 10, tuple("0123456789"), "numbered")
    stream = batches(numbered, batch_size=20, seed=3)
    drawn = [next(stream) for _ in range(6)]
    assert [len(x) for x, _ in drawn] == [20, 20, 10, 20, 20, 10]  # 120 images: 2.4 epochs
    for x, y in drawn:
        assert torch.equal(y, (x[:, 0, 0, 0] * 50).round().long() % 10)  # labels stay with images
    again = batches(numbered, batch_size=20, seed=3)
    assert all(torch.equal(x, next(again)[0]) for x, _ in drawn)


def test_batches_augment_only_when_asked(digits):
    small = digits.subset(torch.arange(40))
    x_plain, y_plain = next(batches(small, batch_size=40, seed=0))
    x_aug, y_aug = next(batches(small, batch_size=40, seed=0, augment=AugmentConfig()))
    assert torch.equal(y_plain, y_aug)  # the same images drawn, in the same order
    assert not torch.equal(x_plain, x_aug) and x_aug.shape == x_plain.shape


def test_device_loader_errors():
    with pytest.raises(ValueError, match="at least one tensor"):
        DeviceLoader(batch_size=4)
    with pytest.raises(ValueError, match=r"same length, got \[5, 4\]"):
        DeviceLoader(torch.zeros(5), torch.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        DeviceLoader(torch.zeros(5), batch_size=0)
    with pytest.raises(ValueError, match="cannot fill a batch of 8.*lower the batch size"):
        DeviceLoader(torch.zeros(5), batch_size=8, drop_last=True)
    with pytest.raises(ValueError, match="length 0"):
        DeviceLoader(torch.zeros(0), batch_size=8)


def test_loose_files_in_torchvision_root_are_not_taken_for_another_dataset(offline):
    write_fake_split(offline / "torchvision", "train")  # Fashion-MNIST's files, lying loose
    assert data.find_dataset("mnist") is None  # same file names, but not MNIST's folder
    write_fake_split(offline / "torchvision" / "MNIST" / "raw", "train")
    assert data.find_dataset("mnist") == offline / "torchvision" / "MNIST" / "raw"
