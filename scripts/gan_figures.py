"""The README's GAN figures, drawn with Pillow (no plotting library needed).

    python scripts/gan_figures.py losses runs/gan-qp-mnist/state/training.json docs/gan-qp-mnist-losses.png
    python scripts/gan_figures.py coverage gan-qp-gaussian-grid docs/gan-qp-gaussian-grid-coverage.png
    python scripts/gan_figures.py reconstructions bigan-qp-mnist docs/bigan-qp-mnist-reconstructions.png

`losses`: the critic and generator losses per epoch from a run's training state;
`coverage`: 2,500 samples of a 25-Gaussians GAN (seed 0) beside the data, plain and
after 20 Langevin steps at temperature 0; `reconstructions`: 16 MNIST test digits (odd columns) and
decode(encode(x)) (even columns).
"""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import zoo
from zoo.cli import write_samples


def _line_plot(series, size=(640, 360), margin=50):
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    values = np.concatenate([np.asarray(v) for v in series.values()])
    low, high = float(values.min()), float(values.max())
    low, high = (low - 0.05 * (high - low), high + 0.05 * (high - low)) if high > low else (low - 1, high + 1)
    width, height = size[0] - 2 * margin, size[1] - 2 * margin

    def point(i, value, count):
        return (margin + width * i / max(count - 1, 1), margin + height * (high - value) / (high - low))

    draw.rectangle([margin, margin, margin + width, margin + height], outline="black")
    if low < 0 < high:
        draw.line([point(0, 0.0, 2), point(1, 0.0, 2)], fill=(180, 180, 180))
    for tick in np.linspace(low, high, 5):
        draw.text((4, point(0, tick, 2)[1] - 5), f"{tick:.2f}", fill="black")
    colours = [(200, 30, 30), (30, 30, 200), (30, 150, 30)]
    for index, (name, values) in enumerate(series.items()):
        draw.line([point(i, v, len(values)) for i, v in enumerate(values)], fill=colours[index], width=2)
        draw.text((margin + 10 + 200 * index, 10), name, fill=colours[index])
    draw.text((margin + width // 2 - 20, size[1] - margin + 15), "epoch", fill="black")
    return image


def _scatter(points, size=300, extent=5.0, colour=(30, 30, 200)):
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    pixels = (np.asarray(points) / extent + 1.0) * size / 2
    for x, y in pixels:
        draw.point((x, size - y), fill=colour)
    return image


def losses(state, out):
    history = json.loads(Path(state).read_text())["history"]
    _line_plot({"critic loss": history["critic_loss"], "generator loss": history["generator_loss"]}).save(out)


def coverage(name, out):
    model = zoo.load(name)
    data, _ = zoo.datasets.load("gaussian_grid", "test", num=2500)
    panels = [_scatter(data, colour=(0, 0, 0)), _scatter(model.sample(2500, seed=0)),
              _scatter(model.sample(2500, seed=0, langevin_steps=20, step_size=1e-3, temperature=0.0), colour=(200, 30, 30))]
    canvas = Image.new("RGB", (3 * 300 + 20, 320), "white")
    draw = ImageDraw.Draw(canvas)
    for index, (panel, title) in enumerate(zip(panels, ["data", "GAN-QP samples", "+ 20 Langevin steps, temperature 0"])):
        canvas.paste(panel, (index * 310, 20))
        draw.text((index * 310 + 5, 3), title, fill="black")
    canvas.save(out)


def reconstructions(name, out):
    model = zoo.load(name)
    images, _ = zoo.datasets.load("mnist", "test", num=16)
    rebuilt = model.reconstruct(images)
    pairs = np.stack([images, rebuilt], 1).reshape(-1, *images.shape[1:])
    write_samples(pairs, out, nrow=8)


if __name__ == "__main__":
    {"losses": losses, "coverage": coverage, "reconstructions": reconstructions}[sys.argv[1]](*sys.argv[2:])
