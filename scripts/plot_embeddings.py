"""PCA of an encoder's test-set embeddings coloured by class, beside the same
architecture at random initialization (PNG, drawn with Pillow).

    KERAS_BACKEND=tensorflow python scripts/plot_embeddings.py runs/cpc-cifar/checkpoint \\
        --num 2000 --out runs/cpc-cifar/embeddings_pca.png
"""

import argparse

import numpy as np
from PIL import Image, ImageDraw

import zoo

# The ten "tab10" colours.
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
PANEL, MARGIN = 420, 30


def pca_2d(features):
    """Projections on the first two principal axes of standardized features, and the
    share of variance they explain."""
    x = (features - features.mean(0)) / (features.std(0) + 1e-6)
    _, singular, axes = np.linalg.svd(x, full_matrices=False)
    return x @ axes[:2].T, float((singular[:2] ** 2).sum() / (singular**2).sum())


def draw_panel(draw, left, points, labels, title):
    low, high = np.percentile(points, 1, axis=0), np.percentile(points, 99, axis=0)
    scaled = np.clip((points - low) / (high - low + 1e-9), 0, 1)
    for (u, v), label in zip(scaled, labels):
        x, y = left + MARGIN + u * (PANEL - 2 * MARGIN), MARGIN + (1 - v) * (PANEL - 2 * MARGIN)
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=COLOURS[label % 10])
    draw.rectangle((left + 4, 4, left + PANEL - 4, PANEL - 4), outline=(160, 160, 160))
    draw.text((left + 10, 8), title, fill=(0, 0, 0))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="checkpoint name or directory of an encoder")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--num", type=int, default=2000, help="first NUM test images")
    parser.add_argument("--seed", type=int, default=0, help="seed of the randomly initialized encoder")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    model = zoo.load(args.model)
    with zoo.registry.seeded_initializers(args.seed):
        untrained = type(model).from_config(model.get_config())
    images, labels = zoo.datasets.load(args.dataset, "test", num=args.num)
    names = zoo.datasets.class_names(args.dataset)
    canvas = Image.new("RGB", (2 * PANEL, PANEL + 40), "white")
    draw = ImageDraw.Draw(canvas)
    for index, (encoder, what) in enumerate(((model, "trained"), (untrained, "random initialization"))):
        points, explained = pca_2d(encoder.embed(images))
        draw_panel(draw, index * PANEL, points, labels,
                   f"{what}: PCA of {len(images)} test embeddings ({explained:.0%} of variance)")
    for label, name in enumerate(names):
        x = 10 + label * (2 * PANEL - 20) // len(names)
        draw.ellipse((x, PANEL + 14, x + 8, PANEL + 22), fill=COLOURS[label % 10])
        draw.text((x + 12, PANEL + 12), name, fill=(0, 0, 0))
    canvas.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
