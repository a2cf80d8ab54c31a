"""Draw the course's structure diagrams as PNG files, with matplotlib only.

    python docs/diagrams/make_diagrams.py                  # every diagram, into docs/diagrams/
    python docs/diagrams/make_diagrams.py --out DIR vae    # one diagram, into another folder

Each diagram is one function below, drawn on a 90 x 40 grid of units (a 900 x 400 pixel
image, one unit is ten pixels). The colours mean the same thing in every diagram (``COLOURS``):
blue for images and data, orange for networks, purple for codes and noise, green for labels,
red for losses, grey for notes. The notebooks show the PNGs through their raw GitHub address,
so after changing a diagram, run this script and commit the PNGs it rewrites.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT, DPI = 90, 40, 100  # grid units; one unit = 10 pixels at DPI 100

# (fill, edge) per kind of thing; pale fills keep black text readable, edges tell kinds apart
COLOURS = {
    "data": ("#dceaf7", "#2b6cb0"),  # images, data sets
    "net": ("#fde3c8", "#c05621"),  # networks
    "code": ("#e9e0f7", "#6b46c1"),  # latent codes, noise, features
    "label": ("#d8f1df", "#2f855a"),  # class labels
    "loss": ("#fbd9d9", "#c53030"),  # losses and scores
    "note": ("#f2f2f2", "#718096"),  # everything else: notes, outcomes
    "test": ("#e2e2e2", "#2d3748"),  # the test set, kept apart
}
TEXT = "#1a202c"
FONT = 11  # points; at DPI 100 about 15 pixels, legible at notebook width


def canvas(height: float = HEIGHT):
    """A blank figure whose data coordinates are grid units, (0, 0) at the bottom left."""
    fig = plt.figure(figsize=(WIDTH / 10, height / 10), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def box(ax, x, y, w, h, text, kind="net", size=FONT, bold=False, dashed=False):
    """A rounded box with its lower-left corner at (x, y); returns its centre and size."""
    fill, edge = COLOURS[kind]
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.8",
                                facecolor=fill, edgecolor=edge, linewidth=1.6,
                                linestyle="--" if dashed else "-"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, color=TEXT,
            fontweight="bold" if bold else "normal", linespacing=1.3)
    return (x + w / 2, y + h / 2, w, h)


def frame(ax, x, y, w, h, title, kind="note"):
    """A dashed rounded frame around a group of boxes, its title at the top left."""
    _, edge = COLOURS[kind]
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=1.2",
                                facecolor="none", edgecolor=edge, linewidth=1.2,
                                linestyle=(0, (4, 3))))
    ax.text(x + 1, y + h - 0.6, title, ha="left", va="top", fontsize=FONT - 1, color=edge,
            fontweight="bold")


def arrow(ax, start, end, kind="note", text=None, dashed=False, text_at=0.5, offset=(0, 1.0),
          rad=0.0, size=FONT - 1):
    """An arrow from ``start`` to ``end`` (grid points), with an optional label near it."""
    _, edge = COLOURS[kind]
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                 color=edge, linewidth=1.5, linestyle="--" if dashed else "-",
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0))
    if text:
        x = start[0] + text_at * (end[0] - start[0]) + offset[0]
        y = start[1] + text_at * (end[1] - start[1]) + offset[1]
        ax.text(x, y, text, ha="center", va="center", fontsize=size, color=edge)


def note(ax, x, y, text, size=FONT - 1, ha="center", colour=None, **kwargs):
    """Plain text at (x, y)."""
    ax.text(x, y, text, ha=ha, va="center", fontsize=size, color=colour or TEXT,
            linespacing=1.3, **kwargs)


def right(b):
    return (b[0] + b[2] / 2, b[1])


def left(b):
    return (b[0] - b[2] / 2, b[1])


def top(b):
    return (b[0], b[1] + b[3] / 2)


def bottom(b):
    return (b[0], b[1] - b[3] / 2)


def draw_vae(ax):
    """Notebook 02: encoder -> (mu, log-variance) -> z = mu + sigma * eps -> decoder; two losses."""
    note(ax, 45, 38, "A variational autoencoder (VAE): one training step", size=FONT + 2,
         fontweight="bold")
    x = box(ax, 1, 22, 9, 8, "image\n$x$", "data")
    enc = box(ax, 13, 21, 12, 10, "encoder\n2 conv +\nMLP", "net")
    mu = box(ax, 29, 27.5, 10, 5, r"mean $\mu(x)$", "code")
    lv = box(ax, 29, 19.5, 10, 5, r"log-variance" "\n" r"$\log\sigma^2(x)$", "code", size=FONT - 1)
    z = box(ax, 44, 21, 15, 10, "reparameterise\n" r"$z = \mu + \sigma \odot \varepsilon$",
            "code")
    eps = box(ax, 45.5, 10, 12, 6, r"$\varepsilon \sim \mathcal{N}(0, I)$" "\nfrom outside", "code",
              size=FONT - 1, dashed=True)
    dec = box(ax, 63, 21, 12, 10, "decoder\nMLP +\n2 deconv", "net")
    xh = box(ax, 79, 22, 10, 8, "pixel logits\n" r"$\sigma(\cdot) = \hat{x}$", "data",
             size=FONT - 1)
    arrow(ax, right(x), left(enc))
    arrow(ax, (enc[0] + 6, 28), left(mu))
    arrow(ax, (enc[0] + 6, 24), left(lv))
    arrow(ax, right(mu), (z[0] - 7.5, 28))
    arrow(ax, right(lv), (z[0] - 7.5, 24))
    arrow(ax, top(eps), bottom(z), "code")
    arrow(ax, right(z), left(dec))
    arrow(ax, right(dec), left(xh))
    # the two loss terms, fed by dashed arrows from what each one reads
    kl = box(ax, 14, 10, 29, 7, r"KL term: $\mathrm{KL}(\mathcal{N}(\mu, \sigma^2)\,\|\,"
             r"\mathcal{N}(0, I))$" "\n"
             r"$= \frac{1}{2}\sum(\mu^2 + \sigma^2 - 1 - \log\sigma^2)$", "loss", size=FONT - 1)
    box(ax, 1, 1, 88, 5.5, "reconstruction term: $-\\log p(x \\mid z)$ = binary "
              "cross-entropy between the logits of $\\hat{x}$ and the pixels of $x$", "loss",
              size=FONT - 1)
    arrow(ax, bottom(lv), (lv[0], kl[1] + kl[3] / 2), "loss", dashed=True)
    arrow(ax, bottom(x), (x[0], 6.5), "loss", dashed=True)
    arrow(ax, bottom(xh), (xh[0], 6.5), "loss", dashed=True)
    note(ax, 70, 14, r"loss $=$ recon $+\ \beta \cdot$ KL", size=FONT + 1,
         colour=COLOURS["loss"][1], fontweight="bold")
    note(ax, 70, 10.5, r"($\beta = 1$: the negative ELBO)", colour=COLOURS["loss"][1])
    note(ax, 72, 35, r"to generate: draw $z \sim \mathcal{N}(0, I)$, run the decoder",
         colour=COLOURS["code"][1])


def draw_cvae(ax):
    """Notebook 03: the one-hot label appended at the encoder and at the decoder."""
    note(ax, 45, 38, "A conditional VAE: the label enters both halves", size=FONT + 2,
         fontweight="bold")
    x = box(ax, 1, 20, 7, 8, "image\n$x$", "data")
    conv = box(ax, 11, 20, 8, 8, "2 conv", "net")
    cat1 = box(ax, 22, 20, 11, 8, "features\n$\\oplus$ one-hot($y$)", "label", size=FONT - 1)
    mlp1 = box(ax, 36, 20, 6, 8, "MLP", "net")
    stats = box(ax, 45, 20, 9, 8, r"$\mu$, $\log\sigma^2$" "\n" r"$\to z$", "code")
    cat2 = box(ax, 57, 20, 11, 8, "$z$\n$\\oplus$ one-hot($y$)", "label", size=FONT - 1)
    dec = box(ax, 71, 20, 9, 8, "MLP +\n2 deconv", "net", size=FONT - 1)
    xh = box(ax, 83, 20, 6, 8, r"$\hat{x}$", "data")
    frame(ax, 10, 18.5, 45, 13, r"encoder $q(z \mid x, y)$", "net")
    frame(ax, 56, 18.5, 25, 13, r"decoder $p(x \mid z, y)$", "net")
    chain = [x, conv, cat1, mlp1, stats, cat2, dec, xh]
    for a, b in zip(chain[:-1], chain[1:], strict=True):
        arrow(ax, right(a), left(b))
    y = box(ax, 38, 6, 14, 7, "label $y$\n(one of $K$ classes)", "label")
    arrow(ax, left(y), bottom(cat1), "label", "one-hot: $K$ numbers", offset=(-6.5, -1))
    arrow(ax, right(y), bottom(cat2), "label", "the same one-hot", offset=(6.5, -1))
    note(ax, 45, 35, r"$z$ no longer has to say which class: it keeps the style "
         "(width, brightness, shape within the class)", colour=COLOURS["code"][1])
    note(ax, 45, 2.2, r"to generate: choose $y$, draw $z \sim \mathcal{N}(0, I)$, decode"
         r" $z \oplus$ one-hot($y$).   Loss: the same ELBO, every term given $y$.")


def draw_gan(ax):
    """Notebook 04: G makes fakes from noise, D scores real and fake, and their two losses."""
    note(ax, 45, 38, "A GAN: two networks, two losses", size=FONT + 2, fontweight="bold")
    z = box(ax, 1, 22, 10, 8, "noise\n" r"$z \sim \mathcal{N}(0, I)$", "code")
    g = box(ax, 14, 22, 10, 8, "generator\n$G$", "net", bold=True)
    fake = box(ax, 27, 22, 11, 8, "fake image\n$G(z)$", "data", dashed=True)
    real = box(ax, 27, 8, 11, 8, "real image\n$x$ (data)", "data")
    d = box(ax, 42, 14, 15, 9, "discriminator\n$D$", "net", bold=True)
    score = box(ax, 60, 13.5, 12, 10, "a logit each;\n$D(\\cdot) = \\sigma(\\mathrm{logit})$\n"
                "= P(real)", "loss", size=FONT - 1)
    arrow(ax, right(z), left(g))
    arrow(ax, right(g), left(fake))
    arrow(ax, right(fake), (d[0] - 7.5, 21))
    arrow(ax, right(real), (d[0] - 7.5, 16))
    arrow(ax, right(d), left(score))
    dl = box(ax, 75, 21, 14, 10, "(1) D loss\n" r"$-\log D(x)$" "\n"
             r"$-\log(1 - D(G(z)))$" "\nfake detached", "loss", size=FONT - 1)
    gl = box(ax, 75, 6, 14, 10, "(2) G loss\n" r"$-\log D(G(z))$" "\n(non-saturating)",
             "loss", size=FONT - 1)
    arrow(ax, (score[0] + 6, 21), left(dl), "loss")
    arrow(ax, (score[0] + 6, 16), left(gl), "loss")
    # G's gradient flows back through D into G; only G's optimiser steps
    edge = COLOURS["loss"][1]
    ax.plot([gl[0], gl[0], g[0]], [6, 3.6, 3.6], color=edge, lw=1.5, ls="--")
    arrow(ax, (g[0], 3.6), bottom(g), "loss", dashed=True)
    note(ax, 50, 1.9, "(2) G's gradient flows back through D into G; only G's weights step",
         colour=edge)
    note(ax, 45, 34.5, "D learns to tell real from fake; G learns to make D call its images real."
         "  Each step: (1) update D, then (2) update G.", colour=COLOURS["note"][1])


def draw_projection(ax):
    """Notebook 05: D(x, y) = psi(phi(x)) + <embed(y), phi(x)>."""
    note(ax, 45, 38, "The projection discriminator of the conditional GAN", size=FONT + 2,
         fontweight="bold")
    note(ax, 45, 34.5, r"$D(x, y) = \psi(\phi(x)) + \langle e_y, \phi(x) \rangle$",
         size=FONT + 1, colour=COLOURS["loss"][1])
    x = box(ax, 1, 17, 10, 8, "image $x$\n(real or fake)", "data", size=FONT - 1)
    phi_net = box(ax, 14, 17, 9, 8, "feature\nnetwork", "net")
    phi = box(ax, 26, 17, 10, 8, "features\n" r"$\phi(x)$", "code")
    psi = box(ax, 41, 23, 16, 8, r"linear $\psi$: $w^\top \phi(x)$" "\n\u201cis $x$ real?\u201d",
              "net", size=FONT - 1)
    y = box(ax, 14, 3, 9, 8, "label $y$", "label")
    emb = box(ax, 26, 3, 10, 8, "embedding\n$e_y$: a row\nper class", "label", size=FONT - 1)
    dot = box(ax, 41, 9, 16, 8, r"$\langle e_y, \phi(x) \rangle$"
              "\n\u201cis $x$ of class $y$?\u201d", "label", size=FONT - 1)
    plus = box(ax, 61, 18.5, 5, 5, "+", "loss", size=FONT + 4, bold=True)
    out = box(ax, 70, 16.5, 19, 9, "score $D(x, y)$\none logit", "loss")
    arrow(ax, right(x), left(phi_net))
    arrow(ax, right(phi_net), left(phi))
    arrow(ax, (phi[0] + 5, 23), left(psi), "code")
    arrow(ax, (phi[0] + 5, 19), left(dot), "code")
    arrow(ax, right(y), left(emb), "label")
    arrow(ax, right(emb), (dot[0] - 8, 11), "label")
    arrow(ax, right(psi), top(plus), rad=-0.3)
    arrow(ax, right(dot), bottom(plus), rad=0.3)
    arrow(ax, right(plus), left(out), "loss")
    note(ax, 64, 5, "The label acts on every feature\ninstead of being one more input.\n"
         "(G reads $z \\oplus$ one-hot($y$).)", colour=COLOURS["note"][1], ha="left")


def draw_experiment(ax):
    """Notebook 07: seeds x budgets x methods, validation for choices, test for the score."""
    note(ax, 45, 38, "The augmentation experiment: a paired design", size=FONT + 2,
         fontweight="bold")
    small = FONT - 2
    train = box(ax, 1, 20, 14, 12, "training split\n(labels we\npretend not\nto have)", "data",
                size=small)
    frame(ax, 19, 13.2, 70, 22.3, "for every seed s and budget n  (one cell each: seeds x budgets)")
    sub = box(ax, 21, 24, 14, 8, "labelled subset:\n$n$ per class,\ndrawn with seed s", "data",
              size=small)
    gens = box(ax, 21, 14.6, 14, 7.8, "cVAE and cGAN,\ntrained on the\nsubset only,\n"
               "give samples", "net", size=small)
    arrow(ax, bottom(sub), top(gens))
    arrow(ax, right(train), left(sub), "data")
    methods = ["none", "classical", "cvae", "cgan", "cvae+classical", "cgan+classical"]
    for i, m in enumerate(methods):
        generative = "cvae" in m or "cgan" in m
        box(ax, 40, 29.9 - 3.1 * i, 14, 2.6, m, "net" if generative else "data", size=small)
    arrow(ax, right(sub), (39.8, 28), "data")
    arrow(ax, right(gens), (39.8, 18.5), "net")
    note(ax, 57, 24, "one stacked classifier per cell,\na model per method: the same\n"
         "initial weights, the same real\nbatches in the same order, the\nsame number of "
         "steps; only\nthe method differs", size=small, ha="left", colour=COLOURS["note"][1])
    # bottom row: validation for choices, the test set for the final score only
    y0, h, w, gap = 1.5, 9, 12.6, 2.48
    xs = [1 + i * (w + gap) for i in range(6)]
    val = box(ax, xs[0], y0, w, h, "validation split\nheld out of the\ntraining split\nonce",
              "data", size=small)
    ratio = box(ax, xs[1], y0, w, h, "share of\ngenerated images\nchosen on\nvalidation",
                "note", size=small)
    test = box(ax, xs[2], y0, w, h, "test split:\nonly for the\nfinal score", "test",
               size=small)
    scores = box(ax, xs[3], y0, w, h, "test accuracy\nper method,\nbudget, seed", "loss",
                 size=small)
    gains = box(ax, xs[4], y0, w, h, "paired gain\nper seed over\nnone, classical", "loss",
                size=small)
    ci = box(ax, xs[5], y0, w, h, "mean over seeds,\n95% t-interval;\nexcludes 0 =\nevidence",
             "loss", size=small)
    arrow(ax, bottom(train), top(val), "data")
    arrow(ax, right(val), left(ratio), "data")
    arrow(ax, top(ratio), (39.8, 15.2), "note", rad=-0.15)
    arrow(ax, right(test), left(scores), "test")
    arrow(ax, (47, 14.4), top(scores), "loss")
    arrow(ax, right(scores), left(gains), "loss")
    arrow(ax, right(gains), left(ci), "loss")


def draw_flow_matching(ax):
    """Notebook 08: noise images on a straight line, learn the velocity, walk back with Euler."""
    note(ax, 45, 38, "Flow matching: learn the way from noise to image", size=FONT + 2,
         fontweight="bold")
    x = box(ax, 1, 22, 11, 8, "real image\n$x$ (t = 0)", "data")
    eps = box(ax, 1, 8, 11, 8, "noise\n" r"$\varepsilon \sim \mathcal{N}(0, I)$" "\n(t = 1)",
              "code")
    xt = box(ax, 17, 15, 16, 8, "noised image\n" r"$x_t = (1-t)\,x + t\,\varepsilon$",
             "data", dashed=True)
    arrow(ax, right(x), (xt[0] - 8, 20))
    arrow(ax, right(eps), (xt[0] - 8, 17))
    t = box(ax, 20, 28, 10, 5, "time $t$", "code", size=FONT - 1)
    y = box(ax, 36, 28, 14, 5, "label $y$ (or null)", "label", size=FONT - 1)
    net = box(ax, 38, 15, 14, 8, "denoiser\n" r"$v_\theta(x_t, t, y)$", "net", bold=True)
    arrow(ax, right(xt), left(net))
    arrow(ax, bottom(t), (net[0] - 5, 23))
    arrow(ax, bottom(y), top(net), "label")
    loss = box(ax, 57, 15, 16, 8, "loss\n" r"$\|v_\theta - (\varepsilon - x)\|^2$", "loss")
    arrow(ax, right(net), left(loss), "loss")
    sample = box(ax, 57, 2, 31, 9, "sampling: from noise (t = 1), a few Euler steps\n"
                 r"$x \leftarrow x - \Delta t\; \tilde v$, with guidance" "\n"
                 r"$\tilde v = v_{null} + w\,(v_y - v_{null})$", "note", size=FONT - 1)
    arrow(ax, bottom(net), (sample[0] - 15.5, 11), dashed=True)
    note(ax, 81, 19, "the straight line's\nvelocity: one target\nfor every t",
         colour=COLOURS["loss"][1])
    note(ax, 45, 34.5, "Training: noise a batch at random times, regress the velocity; a share "
         "of labels is dropped to null (for guidance).", colour=COLOURS["note"][1])


DIAGRAMS = {  # file name (without .png) -> drawing function
    "vae": draw_vae,
    "cvae": draw_cvae,
    "gan": draw_gan,
    "projection_discriminator": draw_projection,
    "experiment_design": draw_experiment,
    "flow_matching": draw_flow_matching,
}


def render(name: str, folder: Path) -> Path:
    """Draw one diagram and save it as ``folder/<name>.png``; return the path."""
    fig, ax = canvas()
    DIAGRAMS[name](ax)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=DPI, facecolor="white", metadata={"Software": None})
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("names", nargs="*", help=f"diagrams to draw, of {list(DIAGRAMS)} "
                        "(default: all)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the PNG files")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in DIAGRAMS]
    if unknown:
        parser.error(f"unknown diagram(s) {unknown}; choose from {list(DIAGRAMS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    paths = [render(name, args.out) for name in (args.names or DIAGRAMS)]
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    main(sys.argv[1:])
