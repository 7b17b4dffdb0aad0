"""Completion grids of an autoregressive checkpoint: the top half of test images kept,
the bottom half sampled (`model.complete`). Row 1: the test images; row 2: what the
model is given (the bottom half grey); rows 3...: completions from different seeds.

    KERAS_BACKEND=tensorflow python scripts/autoregressive_completions.py runs/pixelcnn-mnist/checkpoint \\
        --dataset binarized_mnist --out runs/pixelcnn-mnist/completions.png
"""

import argparse

import numpy as np

import zoo
from zoo.cli import write_samples


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--dataset", default="binarized_mnist")
    parser.add_argument("--num", type=int, default=8, help="test images (columns)")
    parser.add_argument("--rows", type=int, default=3, help="completions per image (rows)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    model = zoo.load(args.checkpoint)
    images, _ = zoo.datasets.load(args.dataset, "test", num=args.num)
    known = model.data_shape[0] // 2
    shown = images * np.uint8(255) if images.max() <= 1 else images
    given = shown.copy()
    given[:, known:] = 128
    completions = [model.complete(images, known_rows=known, seed=seed, batch_size=args.num * args.rows)
                   for seed in range(args.rows)]
    write_samples(np.concatenate([shown, given, *completions]), args.out, nrow=args.num)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
