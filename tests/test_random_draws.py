"""Every seeded random draw happens where its generator lives (issue 24).

On a GPU, ``torch.randn(n, d, generator=g).to(device)`` fails when ``g`` is a CUDA generator
("Expected a 'cpu' device type for generator but found 'cuda'"): notebook 10 stopped there.
CI has no GPU, so two checks stand in for one: a scan of genaug's source for any draw that
passes ``generator=`` without going through ``genaug.device.draw``, and a generator that
reports another device, run through every sampler under a torch that refuses, as CUDA does,
a draw made elsewhere than its generator.

The same seed must also give the same samples on a GPU, where cuDNN's fastest kernels need not
repeat their bits: the samplers run under ``genaug.device.deterministic``, checked here.
"""

import ast
from pathlib import Path

import pytest
import torch

from genaug.augment import AugmentConfig, augment
from genaug.device import deterministic, make_generator
from genaug.models.diffusion import Diffusion, DiffusionConfig
from genaug.models.gan import GAN, GANConfig
from genaug.models.vae import VAE, VAEConfig
from genaug.synthetic import labelled_batch

ROOT = Path(__file__).resolve().parents[1]
RANDOM = {"randn", "rand", "randint", "randperm", "normal", "bernoulli", "multinomial", "poisson",
          "randn_like", "rand_like", "randint_like", "normal_", "uniform_", "random_",
          "bernoulli_", "exponential_", "geometric_", "cauchy_", "log_normal_"}
FACTORIES = ("randn", "rand", "randint", "randperm")  # what genaug.device.draw is given


def misplaced_draws(source: str, filename: str = "<source>") -> list[str]:
    """Calls that pass ``generator=`` to a torch random function without drawing on the
    generator's device (``draw`` does; so does ``device=<the generator>.device``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        keywords = {k.arg: k.value for k in node.keywords}
        if name not in RANDOM or "generator" not in keywords:
            continue
        its_device = ast.Attribute(keywords["generator"], "device", ast.Load())
        if "device" in keywords and ast.dump(keywords["device"]) == ast.dump(its_device):
            continue
        found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_draw_in_genaug_bypasses_its_generators_device():
    found = [hit for path in sorted((ROOT / "genaug").rglob("*.py"))
             for hit in misplaced_draws(path.read_text(), str(path.relative_to(ROOT)))]
    assert not found, ("these draws fail with a CUDA generator; write them as "
                       "genaug.device.draw(torch.randn, ..., generator=g, device=d):\n"
                       + "\n".join(found))


@pytest.mark.parametrize("line", [
    "z = torch.randn(n, latent_dim, generator=generator).to(device)",  # vae.py before issue 24
    "order = torch.randperm(n, generator=self.generator)",
    "u = torch.rand(n, generator=g, device=x.device)",
    "x.normal_(generator=g)",
])
def test_the_scan_catches_a_draw_beside_its_generator(line):
    assert len(misplaced_draws(line)) == 1


@pytest.mark.parametrize("line", [
    "z = draw(torch.randn, n, latent_dim, generator=generator, device=device)",
    "u = torch.rand(n, generator=g, device=g.device).to(x.device)",
    "images = model.sample(n, labels=labels, generator=generator)",  # passes it on: not a draw
])
def test_the_scan_accepts_a_draw_on_its_generators_device(line):
    assert misplaced_draws(line) == []


class ElsewhereGenerator(torch.Generator):
    """A CPU generator that says it lives on a GPU: a CUDA generator's stand-in in CPU CI."""

    @property
    def device(self) -> torch.device:
        return torch.device("cuda")


@pytest.fixture
def strict_torch(monkeypatch):
    """torch's random factories refusing, as on CUDA, a generator that lives elsewhere than the
    draw; a draw asked for on the stand-in's "device" really happens on the CPU."""
    def strict(sampler):
        def checked(*args, generator=None, device=None, **kwargs):
            if generator is not None:
                where = torch.device(device if device is not None else "cpu").type
                if where != generator.device.type:
                    raise RuntimeError(f"Expected a '{where}' device type for generator but "
                                       f"found '{generator.device.type}'")
                device = "cpu"
            return sampler(*args, generator=generator, device=device, **kwargs)
        return checked

    for name in FACTORIES:
        monkeypatch.setattr(torch, name, strict(getattr(torch, name)))


def elsewhere(seed: int) -> ElsewhereGenerator:
    generator = ElsewhereGenerator()
    generator.manual_seed(seed)
    return generator


def test_the_stand_in_catches_the_old_form(strict_torch):
    with pytest.raises(RuntimeError, match="Expected a 'cpu' device type for generator"):
        torch.randn(4, 3, generator=elsewhere(0)).to("cpu")


def tiny_models() -> dict:
    """Every generative model, tiny and conditional (3 classes)."""
    torch.manual_seed(0)
    return {"vae": VAE(VAEConfig(image_size=8, n_classes=3, width=8, hidden=32, latent_dim=4)),
            "gan": GAN(GANConfig(arch="dcgan", image_size=8, latent_dim=8, width=8, n_classes=3)),
            "diffusion": Diffusion(DiffusionConfig(image_size=8, n_classes=3, width=8,
                                                   sample_steps=2))}


def samplers() -> dict:
    """Every model's sampler; each takes (n, labels, generator)."""
    models = tiny_models()
    return {name: model.sample for name, model in models.items()} | {
        "truncated gan": lambda n, labels, generator: models["gan"].sample(
            n, labels=labels, generator=generator, truncation=0.5)}


@pytest.mark.parametrize("name", ["vae", "gan", "truncated gan", "diffusion"])
def test_samplers_draw_on_their_generators_device(strict_torch, name):
    sample = samplers()[name]
    labels = torch.tensor([0, 1, 2, 0])
    images = sample(4, labels=labels, generator=elsewhere(5))
    assert torch.equal(images, sample(4, labels=labels, generator=make_generator(5)))


def test_augmentation_draws_on_its_generators_device(strict_torch):
    x = torch.rand(6, 3, 8, 8)
    config = AugmentConfig(hflip=True, erase_p=0.5, jitter=0.4)
    assert torch.equal(augment(x, elsewhere(1), config), augment(x, make_generator(1), config))


def test_cpu_numbers_are_those_of_the_old_draws():
    """A CPU generator still draws on the CPU: the numbers are those drawn before issue 24."""
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=8, width=8, hidden=32, latent_dim=4))
    old = torch.sigmoid(vae.decode(torch.randn(5, 4, generator=make_generator(3)), None))
    assert torch.equal(vae.sample(5, generator=make_generator(3)), old)
    gan = GAN(GANConfig(image_size=8, latent_dim=8, width=8))
    gen = make_generator(4)
    z = torch.randn(64, 8, generator=gen)  # the old truncation: redraw on the CPU, then move
    while (outside := z.abs() > 0.7).any():
        z[outside] = torch.randn(int(outside.sum()), generator=gen)
    assert torch.equal(gan.noise(64, make_generator(4), truncation=0.7), z)



def test_deterministic_sets_and_restores_the_cudnn_flags():
    cudnn = torch.backends.cudnn
    saved = cudnn.deterministic, cudnn.benchmark
    try:
        cudnn.deterministic, cudnn.benchmark = False, True  # as a run tuned for speed might
        with deterministic():
            assert (cudnn.deterministic, cudnn.benchmark) == (True, False)
        assert (cudnn.deterministic, cudnn.benchmark) == (False, True)
        with pytest.raises(KeyError), deterministic():
            raise KeyError("a failing sampler")
        assert (cudnn.deterministic, cudnn.benchmark) == (False, True)
    finally:
        cudnn.deterministic, cudnn.benchmark = saved


@pytest.mark.parametrize("name", ["vae", "gan", "diffusion"])
def test_samplers_run_on_deterministic_kernels(name):
    model, seen = tiny_models()[name], []
    for module in model.modules():
        module.register_forward_pre_hook(
            lambda *_: seen.append(torch.backends.cudnn.deterministic))
    model.sample(3, labels=torch.tensor([0, 1, 2]), generator=make_generator(0))
    assert seen and all(seen), "a sampler ran a layer outside genaug.device.deterministic"
    assert not torch.backends.cudnn.deterministic  # and training gets the fast kernels back


@pytest.mark.parametrize("name", ["vae", "gan", "diffusion"])
def test_labelled_batch_repeats_exactly(name):
    model = tiny_models()[name]
    images, labels = labelled_batch(model, counts=[2, 1, 3], seed=0)
    again, labels_again = labelled_batch(model, counts=[2, 1, 3], seed=0)
    assert torch.equal(images, again) and torch.equal(labels, labels_again)
    assert torch.bincount(labels, minlength=3).tolist() == [2, 1, 3]
