"""Checks for exercise 03: sampling a conditional VAE, by class mix and as a style grid;
stretch: spherical interpolation between two codes."""

from __future__ import annotations

from typing import Callable

import torch

from genaug.checks.common import _expect, _gen, _ok, _passed, _run, _seeded, _tensor, _tuple
from genaug.models.vae import VAE, VAEConfig


class _EchoVAE(VAE):
    """A conditional VAE whose decoder writes the class and the code z into the image, so a
    check can read back which label and which z made each image."""

    def decode(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        """Logits with one lit pixel for the class in row 0 and the code z in row 1."""
        labels = self._labels(labels, z.shape[0])
        n, d, s = z.shape[0], self.config.latent_dim, self.config.image_size
        logits = torch.full((n, 1, s, s), -6.0, device=z.device)
        logits[torch.arange(n), 0, 0, labels] = 6.0  # row 0: one lit pixel for the class
        logits[:, 0, 1, :d] = z  # row 1: the code itself
        return logits


def _echo_vae(n_classes: int = 5) -> _EchoVAE:
    """A tiny echo model with 8x8 images and a 4-dimensional code."""
    config = VAEConfig(image_size=8, latent_dim=4, n_classes=n_classes, width=4, hidden=8)
    return _EchoVAE(config).eval()


def _read_back(model: _EchoVAE, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The labels and codes z that ``_EchoVAE`` wrote into ``images``."""
    k, d = model.config.n_classes, model.config.latent_dim
    labels = images[:, 0, 0, :k].argmax(1)
    z = torch.logit(images[:, 0, 1, :d].double().clamp(1e-12, 1 - 1e-12)).float()
    return labels, z


def _images_in_range(images: torch.Tensor) -> None:
    """Pixel values, not logits: everything in [0, 1]."""
    low, high = float(images.min()), float(images.max())
    _expect(0.0 <= low and high <= 1.0, f"your images range from {low:.3g} to {high:.3g}: "
            "model.decode returns logits; turn them into pixel values with torch.sigmoid.")


def check_class_mix(fn: Callable) -> None:
    """``fn(model, counts, generator)``: images and labels with counts[c] images of class c."""
    with _seeded():
        model = _echo_vae()
        counts = [5, 0, 3, 12, 100]
        images, labels = _tuple(_run(fn, model, counts, _gen(0)), fn, 2, "a pair (images, labels)")
        n = sum(counts)
        _tensor(images, fn, (n, 1, 8, 8))
        _tensor(labels, fn, (n,))
        _expect(labels.dtype == torch.int64, f"labels have dtype {labels.dtype}: return "
                "int64 class ids (torch.long).")
        _ok(f"{n} images of shape (1, 8, 8) and {n} int64 labels")
        got = torch.bincount(labels, minlength=len(counts)).tolist()
        _expect(got == counts, f"your labels hold {got} images per class where counts asked "
                f"for {counts}: build them with torch.repeat_interleave(torch.arange(K), "
                "torch.tensor(counts)).")
        _ok("the class counts are the ones asked for")
        _images_in_range(images)
        _ok("pixel values lie in [0, 1]")
        _expect_decoded_from_prior(model, images, labels)
        again = _run(fn, model, counts, _gen(0))[0]
        _expect(torch.equal(images, again), "the same seed gave different images: draw z with "
                "torch.randn(n, latent_dim, generator=generator).")
        _expect(not torch.equal(images, _run(fn, model, counts, _gen(1))[0]),
                "two different seeds gave the same images: draw z with the generator.")
        _ok("the same seed repeats the batch, another seed changes it")
    _passed("a labelled synthetic batch with the class mix asked for.")


def _expect_decoded_from_prior(model: _EchoVAE, images: torch.Tensor, labels: torch.Tensor
                               ) -> None:
    """Each image was decoded with its own label, from a code drawn from N(0, I)."""
    drawn, z = _read_back(model, images)
    wrong = torch.nonzero(drawn != labels).flatten()
    _expect(len(wrong) == 0, f"image {int(wrong[0]) if len(wrong) else 0} was decoded for "
            "another class than its label says: decode with the same labels you return "
            "(shuffle images and labels together, or not at all).")
    _ok("every image was decoded with the label returned beside it")
    _expect(abs(float(z.mean())) < 0.15 and abs(float(z.std()) - 1) < 0.15,
            f"your codes z have mean {float(z.mean()):.2f} and std {float(z.std()):.2f}: "
            "draw them from the prior N(0, I) with torch.randn(..., generator=generator).")
    _ok("the codes z come from the prior N(0, I)")


def check_style_grid(fn: Callable) -> None:
    """``fn(model, n_styles, generator)``: (n_styles * K) images, row s = the same code z_s for
    every class, column c = class c (the layout of notebook 03)."""
    with _seeded():
        model = _echo_vae(n_classes=4)
        k, n_styles = 4, 6
        images = _tensor(_run(fn, model, n_styles, _gen(0)), fn, (n_styles * k, 1, 8, 8))
        _images_in_range(images)
        _ok(f"{n_styles} styles x {k} classes = {n_styles * k} images in [0, 1]")
        labels, z = _read_back(model, images)
        wanted = torch.arange(k).repeat(n_styles)
        i = int(torch.argmax((labels != wanted).int()))
        _expect(torch.equal(labels, wanted), f"image {i} should show class {int(wanted[i])} "
                f"(column c holds class c in every row), but was decoded as class "
                f"{int(labels[i])}: labels = torch.arange(K).repeat(n_styles).")
        _ok("column c holds class c")
        grid = z.view(n_styles, k, -1)  # (n_styles, K, latent_dim)
        one_code_a_row = bool((grid - grid[:, :1]).abs().max() < 1e-4)
        distinct = len({tuple(v) for v in z.round(decimals=4).tolist()})
        _expect(one_code_a_row or distinct != n_styles, "you drew the right number of codes "
                "but placed them wrongly: image s * K + c must use code s, so repeat each code "
                "K times in a row (z.repeat_interleave(K, dim=0)), not the whole block of codes.")
        _expect(one_code_a_row, "the images of one row were decoded from different codes z: "
                "draw n_styles codes once and use each one for every class of its row.")
        _expect(distinct == n_styles, f"you used {distinct} different codes, expected "
                f"{n_styles}: draw one code per row from N(0, I).")
        _ok("each row keeps one code z across all classes")
    _passed("a style-by-class grid: the class changes along a row, the style down a column.")


def _slerp(z0: torch.Tensor, z1: torch.Tensor, n_steps: int) -> torch.Tensor:
    """The reference: spherical interpolation, linear where the two codes are parallel."""
    a = torch.linspace(0, 1, n_steps, dtype=z0.dtype).unsqueeze(1)  # (n_steps, 1)
    omega = torch.arccos((z0 @ z1 / (z0.norm() * z1.norm())).clamp(-1, 1))
    if omega < 1e-4:
        return (1 - a) * z0 + a * z1
    return (torch.sin((1 - a) * omega) * z0 + torch.sin(a * omega) * z1) / torch.sin(omega)


def check_slerp(fn: Callable) -> None:
    """``fn(z0, z1, n_steps)``: (n_steps, D) codes along the arc from z0 to z1, ends included."""
    with _seeded():
        z0, z1 = torch.randn(8), torch.randn(8)
        z1 = z1 * z0.norm() / z1.norm()  # two codes of the same length
        path = _tensor(_run(fn, z0, z1, 9), fn, (9, 8))
        _expect(torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5),
                "the path must start at z0 and end at z1: let the share a run from 0 to 1, "
                "both ends included.")
        _ok("the path starts at z0 and ends at z1")
        norms = path.norm(dim=1)
        _expect(float(norms.min()) > 0.98 * float(z0.norm()), f"between two codes of length "
                f"{float(z0.norm()):.2f} your path shrinks to {float(norms.min()):.2f}: that is "
                "a straight line, a chord that cuts inside the sphere; follow the arc instead.")
        _ok("between two codes of equal length, the path keeps that length")
        steps = torch.arccos((path[1:] * path[:-1]).sum(1) / (norms[1:] * norms[:-1]))
        _expect(float(steps.max() - steps.min()) < 1e-3, "the points are not evenly spaced "
                "along the arc: the angle turned must grow in proportion to a.")
        want = _slerp(z0, z1, 9)
        _expect(torch.allclose(path, want, atol=1e-4), "your path is not the arc from z0 to z1 "
                "in the plane of the two codes.")
        _ok("equal angles between steps, in the plane of z0 and z1")
        _tensor(_run(fn, z0, 3 * torch.randn(8), 5), fn, (5, 8))
        same = torch.tensor([3.0, 0.0, 4.0, 0.0])  # cos = 1 exactly: the angle is 0
        parallel = _tensor(_run(fn, same, 2 * same, 3), fn, (3, 4))
        _expect(bool(torch.isfinite(parallel).all()), "for two codes that point the same way "
                "your path holds NaN: the angle is 0 and you divide by its sine; fall back to "
                "a straight line when the angle is tiny.")
        _expect(torch.allclose(parallel, _slerp(same, 2 * same, 3), atol=1e-4), "for two "
                "codes that point the same way the path should run straight from one to the "
                "other.")
        _ok("codes pointing the same way give a straight path, not NaN")
    _passed("spherical interpolation between two codes.")
