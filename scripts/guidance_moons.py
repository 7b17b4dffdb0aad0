"""Measure classifier guidance on the two moons: a noise-aware classifier (recipes/
noisy_classifier_moons.py) steers unconditional moons diffusion models to one moon.

    KERAS_BACKEND=torch python scripts/guidance_moons.py --classifier runs/noisy-classifier-moons/checkpoint \\
        --models runs/edm-moons/checkpoint:heun:18 runs/ddpm-moons/checkpoint:ddim:50

Prints the classifier's test accuracy at several noise levels, then for each model and
guidance scale the share of samples on the requested moon (alternating labels 0/1; a
sample's moon is that of its nearest labelled training point) and the mean distance from
a sample to its nearest training point (a check that guidance keeps samples on the data).
"""

import argparse

import numpy as np

import zoo


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", required=True)
    parser.add_argument("--models", nargs="+", required=True, help="CHECKPOINT:SOLVER:STEPS ...")
    parser.add_argument("--scales", default="0,1,2,4")
    parser.add_argument("--num", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    classifier = zoo.load(args.classifier)
    test, test_labels = zoo.datasets.load("moons", split="test", with_labels=True)
    accuracy = {sigma: classifier.accuracy(test, test_labels, sigma) for sigma in (0.01, 0.3, 1.0, 3.0, 10.0, 150.0)}
    print("test accuracy by sigma:", ", ".join(f"{s:g}: {a:.3f}" for s, a in accuracy.items()))
    reference, reference_labels = zoo.datasets.load("moons", split="train", num=20_000, with_labels=True)
    labels = np.arange(args.num) % 2
    for spec in args.models:
        path, solver, steps = spec.rsplit(":", 2)
        model = zoo.load(path)
        for scale in map(float, args.scales.split(",")):
            samples = model.sample(args.num, solver=solver, steps=int(steps), labels=labels, guidance=scale,
                                   classifier=classifier, seed=args.seed)
            distances = ((samples[:, None] - reference[None]) ** 2).sum(-1)
            on_moon = np.mean(reference_labels[np.argmin(distances, 1)] == labels)
            print(f"{path} {solver} {steps}, scale {scale:g}: on the requested moon {on_moon:.3f}, "
                  f"distance to data {np.sqrt(distances.min(1)).mean():.3f}")


if __name__ == "__main__":
    main()
