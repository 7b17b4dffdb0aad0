"""Analytic-DPM on a trained DDPM checkpoint, without retraining (Bao et al. 2022,
arXiv:2201.06503): estimate Gamma_n by Monte Carlo on training data, store it in the
checkpoint (the `gammas` weight, so `solver="analytic-ddim"` works after `zoo.load`),
and report what it changes: the variational bound with each reverse variance
(beta-tilde, beta, analytic; a Gaussian decoder for 2-D points) and few-step samples (DDIM vs Analytic-DDIM, DDPM vs
Analytic-DDPM) by nearest-neighbour distance (2-D) or FD-classifier (CIFAR-10), and
DDIM's deterministic encode/decode (x_0 -> x_T -> x_0, Song et al. 2021 sec. 5.4): the
reconstruction error on test data at each step count.

    KERAS_BACKEND=torch python scripts/analytic_dpm.py runs/ddpm-moons/checkpoint \\
        --gamma-examples 10000 --steps 10,50 --json runs/ddpm-moons-analytic.json

Writes the checkpoint back in place (atomically) with the estimate and prints a table.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from zoo import datasets, evaluation
from zoo.checkpoint import load_checkpoint, save_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--gamma-examples", type=int, default=10_000, help="training examples per Gamma_n")
    parser.add_argument("--steps", default="10,50", help="comma-separated step counts for the sample comparison")
    parser.add_argument("--num", type=int, default=2000, help="samples per setting")
    parser.add_argument("--nll-examples", type=int, default=2000, help="test examples for the bound")
    parser.add_argument("--solvers", default="ddim,analytic-ddim,ddpm,analytic-ddpm",
                        help="comma-separated solvers for the sample comparison")
    parser.add_argument("--reconstruct-examples", type=int, default=0,
                        help="test examples for DDIM's encode/decode error at each of --steps (0: skip)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    model = load_checkpoint(args.checkpoint, family="DDPM")
    metadata = dict(model.checkpoint_metadata)
    dataset = metadata["dataset"]
    train, _ = datasets.load(dataset, "train", num=args.gamma_examples)
    # One load serves the bound and the reconstruction, which may ask for more examples.
    test, _ = datasets.load(dataset, "test", num=max(args.nll_examples, args.reconstruct_examples))
    image = model.is_image
    to_model = datasets.to_model_space if image else np.asarray

    started = time.monotonic()
    gammas = model.estimate_gammas(to_model(train), seed=0)
    gamma_seconds = time.monotonic() - started
    report = {"checkpoint": str(args.checkpoint), "gamma_examples": len(train),
              "gamma_seconds": round(gamma_seconds, 1),
              "gammas": {"first": float(gammas[0]), "middle": float(gammas[len(gammas) // 2]),
                         "last": float(gammas[-1])}, "bound": {}, "samples": {}}

    unit = "bits/dim" if image else "nats"
    # One pass of N network evaluations per example gives the bound under every variance.
    variances = ("beta_tilde", "beta", "analytic")
    if image:
        bounds = model.bits_per_dim(test[:args.nll_examples], variance=variances)
    else:
        bounds = model.nll(test[:args.nll_examples], variance=variances, decoder="gaussian")  # continuous points
    for variance, values in bounds.items():
        mean, stderr = evaluation.mean_and_stderr(values)
        report["bound"][variance] = {"mean": mean, "stderr": stderr, "unit": unit, "examples": len(values)}
    report["bound_seconds"] = round(time.monotonic() - started - gamma_seconds, 1)

    ev = evaluation.Evaluation(model, samplers=["ddim:1"], num=args.num, test_points=args.nll_examples)
    for steps in (int(s) for s in args.steps.split(",")):
        for solver in (s.strip() for s in args.solvers.split(",") if s.strip()):
            setting = evaluation.SamplerSetting(solver, steps, None)
            ev.samplers = [setting]
            metric = evaluation.sample_quality(ev) if image else evaluation.nearest_neighbour_distance(ev)
            report["samples"][setting.label] = {r.name: r.value for r in metric}

    if args.reconstruct_examples:
        report["reconstruction"] = reconstruction(model, test[:args.reconstruct_examples], to_model, image,
                                                  [int(s) for s in args.steps.split(",")])
    metadata["analytic_dpm"] = {"gamma_examples": len(train), "gamma_seconds": round(gamma_seconds, 1)}
    save_checkpoint(model, args.checkpoint, metadata=metadata, overwrite=True)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def reconstruction(model, test, to_model, image, step_counts):
    """DDIM encode then decode at each step count: RMS error per dimension (model space;
    for images also in 8-bit levels after quantizing the decoded image)."""
    data = to_model(test)
    out = {}
    for steps in step_counts:
        noise = model.encode(data, steps=steps)
        decoded = model.sample(noise=noise, steps=steps, solver="ddim", clip_denoised=False, raw=True)
        entry = {"rmse_model_space": float(np.sqrt(np.mean(np.square(decoded - data)))),
                 "examples": len(test), "noise_std": float(np.std(noise))}
        if image:
            levels = datasets.from_model_space(decoded).astype("float64")
            entry["rmse_levels"] = float(np.sqrt(np.mean(np.square(levels - test.astype("float64")))))
        out[f"ddim:{steps}"] = entry
    return out


if __name__ == "__main__":
    sys.exit(main())
