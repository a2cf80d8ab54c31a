"""How much faster is the on-device pipeline than the tutorial-style DataLoader?

Both train the same SmallCNN for the same steps with the same augmentation (random affine,
horizontal flip, random erasing). The conventional way keeps images as uint8 arrays, turns each
one into a PIL image, runs torchvision transforms per sample in DataLoader worker processes,
and copies each batch to the device. genaug's way keeps the dataset on the device and
augments a whole batch with tensor operations. Images per second are measured after a
warm-up, with CUDA synchronised, over several repeats (mean and spread are printed).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from genaug.augment import AugmentConfig, augment, config_for
from genaug.data import batches, load_dataset
from genaug.device import autocast, describe, get_device, make_generator, synchronize
from genaug.models.classifier import ClassifierConfig, SmallCNN


class TutorialDataset(Dataset):
    """The usual tutorial Dataset: uint8 arrays, one PIL image and transform chain per item."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


def every_transform(dataset: str) -> AugmentConfig:
    """Every classical transform on (affine, flip where allowed, erasing): the heaviest work."""
    return dataclasses.replace(AugmentConfig(), hflip=config_for(dataset).hflip)


def tutorial_transform(dataset: str) -> Callable:
    """torchvision's per-sample equivalent of genaug's classical augmentation."""
    cfg = every_transform(dataset)
    steps = [transforms.RandomAffine(cfg.degrees, translate=(cfg.translate, cfg.translate),
                                     scale=cfg.scale)]
    if cfg.hflip:
        steps.append(transforms.RandomHorizontalFlip())
    steps += [transforms.ToTensor(), transforms.RandomErasing(p=cfg.erase_p, scale=cfg.erase_area)]
    return transforms.Compose(steps)


def tutorial_batches(dataset: str, batch_size: int, workers: int, device: torch.device
                     ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches from a DataLoader with per-sample transforms, moved to ``device``."""
    data = load_dataset(dataset)
    images = (data.images[:, 0] * 255).round().to(torch.uint8).numpy()  # back to uint8 (N, H, W)
    loader = DataLoader(TutorialDataset(images, data.labels.numpy(), tutorial_transform(dataset)),
                        batch_size=batch_size, shuffle=True, num_workers=workers,
                        pin_memory=device.type == "cuda", drop_last=True,
                        persistent_workers=workers > 0)
    while True:
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def genaug_batches(dataset: str, batch_size: int, device: torch.device):
    """Endless batches from the dataset kept on the device, augmented a batch at a time."""
    data = load_dataset(dataset, device=device)
    return batches(data, batch_size, seed=0, augment=every_transform(dataset))


def images_per_second(batch_iter, steps: int, warmup: int, device: torch.device,
                      width: int) -> float:
    """Train a fresh SmallCNN on ``batch_iter``; images/s over ``steps`` after ``warmup``."""
    torch.manual_seed(0)
    model = SmallCNN(ClassifierConfig(width=width)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch_size = 0
    for step in range(warmup + steps):
        if step == warmup:
            synchronize(device)
            start = time.perf_counter()
        x, y = next(batch_iter)
        batch_size = x.shape[0]
        with autocast(device):
            _, loss = model(x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    synchronize(device)
    return steps * batch_size / (time.perf_counter() - start)


def run(dataset: str = "fashion_mnist", steps: int = 200, warmup: int = 20, repeats: int = 3,
        batch_size: int = 128, workers: int = 2, width: int = 32) -> dict:
    """Measure both pipelines ``repeats`` times; print and return the figures."""
    device = get_device()
    print(f"device: {describe(device)} | torch {torch.__version__} | dataset {dataset} | "
          f"batch {batch_size} | {steps} timed steps after {warmup} warm-up | "
          f"SmallCNN width {width}")
    tutorial = tutorial_batches(dataset, batch_size, workers, device)
    ours = genaug_batches(dataset, batch_size, device)
    figures = {"tutorial": [], "genaug": []}
    for _ in range(repeats):  # interleaved, so a slow spell of the machine hits both
        figures["tutorial"].append(images_per_second(tutorial, steps, warmup, device, width))
        figures["genaug"].append(images_per_second(ours, steps, warmup, device, width))
    for name, label in (("tutorial", f"DataLoader + per-sample transforms ({workers} workers)"),
                        ("genaug", "DeviceLoader + batched on-device augmentation")):
        values = figures[name]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{label:55s} {statistics.mean(values):9.0f} images/s (sd {spread:.0f})")
    ratio = statistics.mean(figures["genaug"]) / statistics.mean(figures["tutorial"])
    print(f"speed-up: {ratio:.2f}x")
    return {"device": describe(device), "ratio": ratio, **figures}


def augmentation_only(dataset: str = "fashion_mnist", n: int = 10_000) -> None:
    """Augmentation alone, without a model: per-sample torchvision vs batched genaug."""
    device = get_device()
    data = load_dataset(dataset, device=device)
    x = data.images[:n]
    transform = tutorial_transform(dataset)
    pil = [Image.fromarray((img[0] * 255).byte().cpu().numpy(), mode="L") for img in x[:2000]]
    start = time.perf_counter()
    for image in pil:
        transform(image)
    per_sample = len(pil) / (time.perf_counter() - start)
    generator, config = make_generator(0), every_transform(dataset)
    augment(x, generator, config)  # warm-up
    synchronize(device)
    start = time.perf_counter()
    augment(x, generator, config)
    synchronize(device)
    batched = n / (time.perf_counter() - start)
    print(f"augmentation alone: per-sample {per_sample:,.0f} images/s, "
          f"batched on {device.type} {batched:,.0f} images/s ({batched / per_sample:.0f}x)")
