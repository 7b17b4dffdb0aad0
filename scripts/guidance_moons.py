"""Measure classifier guidance on the two moons: a noise-aware classifier (recipes/
noisy_classifier_moons.py) steers unconditional moons diffusion models to one moon.

    KERAS_BACKEND=torch python scripts/guidance_moons.py --classifier noisy-classifier-moons \\
        --models edm-moons:heun:18 ddpm-moons:ddim:50 [--json guidance.json]

Prints the classifier's test accuracy at several noise levels, then for each model and
guidance scale the share of samples on the requested moon (alternating labels 0/1; a
sample's moon is that of its nearest labelled training point) and the mean distance from
a sample to its nearest training point (a check that guidance keeps samples on the data).
`--json` writes the same numbers as `{"metrics": {name: {"value", "how"}}}`, the format
`scripts/bundle.py --metrics-from` reads.
"""

import argparse
import json
from pathlib import Path

import keras
import numpy as np

import zoo


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", required=True, help="a registered name or a checkpoint directory")
    parser.add_argument("--models", nargs="*", default=[], help="CHECKPOINT:SOLVER:STEPS ...")
    parser.add_argument("--sigmas", default="0.01,0.3,1,3,10,150", help="noise levels of the test accuracy")
    parser.add_argument("--scales", default="0,1,2,4")
    parser.add_argument("--num", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    backend = keras.backend.backend()
    metrics = {}
    classifier = zoo.load(args.classifier)
    test, test_labels = zoo.datasets.load("moons", split="test", with_labels=True)
    for sigma in map(float, args.sigmas.split(",")):
        metrics[f"test accuracy sigma {sigma:g}"] = {
            "value": classifier.accuracy(test, test_labels, sigma, seed=args.seed),
            "how": f"top-1 on the {len(test)} moons test points, each noised once at sigma {sigma:g} "
                   f"(noise seed {args.seed}); {backend}"}
    print("test accuracy by sigma:", ", ".join(f"{name.rsplit(' ', 1)[1]}: {m['value']:.3f}"
                                               for name, m in metrics.items()))
    reference, reference_labels = zoo.datasets.load("moons", split="train", num=20_000, with_labels=True)
    labels = np.arange(args.num) % 2
    for spec in args.models:
        path, solver, steps = spec.rsplit(":", 2)
        model = zoo.load(path)
        for scale in map(float, args.scales.split(",")):
            samples = model.sample(args.num, solver=solver, steps=int(steps), labels=labels, guidance=scale,
                                   classifier=classifier, seed=args.seed)
            distances = ((samples[:, None] - reference[None]) ** 2).sum(-1)
            on_moon = float(np.mean(reference_labels[np.argmin(distances, 1)] == labels))
            print(f"{path} {solver} {steps}, scale {scale:g}: on the requested moon {on_moon:.3f}, "
                  f"distance to data {np.sqrt(distances.min(1)).mean():.3f}")
            metrics[f"on requested moon {Path(path).name} {solver} {steps} guidance {scale:g}"] = {
                "value": on_moon,
                "how": f"share of {args.num} guided samples of {path} ({solver} {steps}, seed {args.seed}, labels "
                       f"alternating 0/1) whose nearest of 20,000 labelled training points is on the requested "
                       f"moon; {backend}"}
    if args.json:
        args.json.write_text(json.dumps({"classifier": args.classifier, "backend": backend, "metrics": metrics},
                                        indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
