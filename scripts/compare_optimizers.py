"""Lion against AdamW, and mixup / TaiLr against plain cross-entropy, at equal steps:
short runs of three families with their recipes' networks, data and batch sizes, each
optimizer's settings from the recipe (or the recipe's converted by Lion's rule), the
schedule spanning the short run. A benchmark, not a test; results as JSON.

    python scripts/compare_optimizers.py classifier --optimizer lion --epochs 10 --workdir runs/compare/cls-lion
    python scripts/compare_optimizers.py classifier --optimizer sgd --mixup 0.2 ...
    python scripts/compare_optimizers.py classifier --optimizer sgd --tailr-gamma 0.1 ...
    python scripts/compare_optimizers.py vae --optimizer adamw --epochs 5 ...
    python scripts/compare_optimizers.py rectified-flow --optimizer lion --epochs 10 ...
    python scripts/compare_optimizers.py state-size      # optimizer-state bytes and step time per optimizer
    python scripts/compare_optimizers.py plot --runs runs/compare/vae-adamw runs/compare/vae-lion --out docs/x.png

Rerunning with the same --workdir resumes; the metrics go to `<workdir>/result.json`.
"""

import argparse
import importlib.util
import json
import time
from pathlib import Path

import keras
import numpy as np

import zoo
from zoo import evaluation, metrics
from zoo.cli import load_recipe
from zoo.optimizers import NAMES, resolve
from zoo.training import ArrayBatches, train

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
CLASSIFIER = load_recipe(RECIPES / "classifier_cifar.py")
VAE = load_recipe(RECIPES / "vae_mnist.py")
FLOW = load_recipe(RECIPES / "rectified_flow_mnist.py")
FLOW_CONFIG = "rectified_flow_tiny"  # the recipe's U-Net is ~2 s a step on 2 CPU cores; this one is ~10x less
FLOW_STEPS_PER_EPOCH = 100
# Short "epochs" (a logged loss and a saved state each) for the curves: a fifth of a pass.
CLASSIFIER_STEPS_PER_EPOCH, VAE_STEPS_PER_EPOCH = 78, 120


def adamw_or_lion(settings, name):
    """The recipe's Adam settings as AdamW (the same, with decoupled decay) or as Lion by the rule."""
    return resolve(settings.replace(name="adamw"), name)


def classifier(args):
    images, labels = zoo.datasets.load("cifar10", split="train")
    batches = ArrayBatches(images, CLASSIFIER.BATCH_SIZE, labels=labels, flip=True, mixup=args.mixup,
                           crop_padding=CLASSIFIER.CROP_PADDING, seed=0, steps_per_epoch=CLASSIFIER_STEPS_PER_EPOCH)
    steps = len(batches) * args.epochs
    warmup = steps // 10  # the recipe warms up for 1 of 30 epochs; a short run for a tenth of it
    settings = resolve({name: s.replace(warmup_steps=warmup, decay_steps=steps - warmup)
                        for name, s in CLASSIFIER.OPTIMIZERS.items()}, args.optimizer)
    model = zoo.create(CLASSIFIER.CONFIG, tailr_gamma=args.tailr_gamma, seed=0)
    exported, seconds = _train(model, batches, settings, args)
    test_images, test_labels = zoo.datasets.load("cifar10", split="test")
    probabilities = metrics.softmax(exported.logits(test_images).astype(np.float64))
    return settings, seconds, len(batches) * args.epochs * CLASSIFIER.BATCH_SIZE, {
        "test accuracy": float(np.mean(probabilities.argmax(-1) == test_labels)),
        "expected calibration error": metrics.expected_calibration_error(probabilities, test_labels),
        "mean confidence": float(probabilities.max(-1).mean())}


def vae(args):
    images, _ = zoo.datasets.load("mnist", split="train")
    batches = ArrayBatches(images, VAE.BATCH_SIZE, seed=0, steps_per_epoch=VAE_STEPS_PER_EPOCH)
    settings = adamw_or_lion(VAE.OPTIMIZER.replace(decay_steps=len(batches) * args.epochs), args.optimizer)
    model = zoo.create(VAE.CONFIG, seed=0)
    exported, seconds = _train(model, batches, settings, args)
    test, _ = zoo.datasets.load("binarized_mnist", split="test", num=2000)
    bounds = exported.image_bounds(test, k=100, seed=0)
    return settings, seconds, len(batches) * args.epochs * VAE.BATCH_SIZE, {
        "negative ELBO (nats), 2,000 test images": float(-np.mean(bounds["elbo"])),
        "NLL bound IWAE k=100 (nats), 2,000 test images": float(-np.mean(bounds["iwae"]))}


def rectified_flow(args):
    images, _ = zoo.datasets.load("mnist", split="train")
    batches = ArrayBatches(images, FLOW.BATCH_SIZE, seed=0, steps_per_epoch=FLOW_STEPS_PER_EPOCH)
    settings = adamw_or_lion(FLOW.OPTIMIZER, args.optimizer)
    model = zoo.create(FLOW_CONFIG, data_shape=(28, 28, 1), ema_decay=0.999, seed=0)
    _, seconds = _train(model, batches, settings, args)
    loaded = zoo.load(Path(args.workdir) / "checkpoint")
    _, results = evaluation.evaluate(loaded, samplers=["euler:20@1000"], bpd_images=0, straightness_steps=0)
    return settings, seconds, FLOW_STEPS_PER_EPOCH * args.epochs * FLOW.BATCH_SIZE, {
        r.name: r.value for r in results if r.value is not None}


def _train(model, batches, settings, args):
    started = time.monotonic()
    exported = train(model, batches, workdir=args.workdir, epochs=args.epochs, optimizer=settings, verbose=2,
                     metadata={"dataset": "mnist" if model.data_shape == (28, 28, 1) else "cifar10"})
    return exported, time.monotonic() - started


def state_size(args):
    """Optimizer-state bytes and the mean train-step time of classifier-cifar per optimizer,
    measured in one process (compare the ratios, not the absolute times)."""
    images, labels = zoo.datasets.load("cifar10", split="train", num=2048)
    rows = {}
    for name in ("sgd", "adamw", "lion"):
        model = zoo.create(CLASSIFIER.CONFIG, seed=0)
        model.compile(optimizer=resolve(CLASSIFIER.OPTIMIZERS, name).build())
        batches = ArrayBatches(images, CLASSIFIER.BATCH_SIZE, labels=labels, seed=0)
        model.fit(batches, epochs=1, steps_per_epoch=2, verbose=0)  # compile and build the state
        started = time.monotonic()
        model.fit(batches, epochs=1, verbose=0)
        step = (time.monotonic() - started) / len(batches)
        state = [v for v in model.optimizer.variables if len(v.shape) > 0]
        weights = sum(int(np.prod(v.shape)) * 4 for v in model.trainable_variables)
        rows[name] = {"state bytes": sum(int(np.prod(v.shape)) * 4 for v in state),
                      "state / weights": sum(int(np.prod(v.shape)) * 4 for v in state) / weights,
                      "seconds per step": step}
        print(name, rows[name], flush=True)
    return rows


def plot(runs, out):
    """The training-loss curves of finished runs (their result.json), one line each."""
    spec = importlib.util.spec_from_file_location("gan_figures", Path(__file__).with_name("gan_figures.py"))
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)  # its Pillow line plot
    series = {}
    for run in runs:
        result = json.loads((Path(run) / "result.json").read_text())
        label = result["optimizer"]["name"] + (f" mixup {result['mixup']:g}" if result["mixup"] else "") + (
            f" TaiLr {result['tailr_gamma']:g}" if result["tailr_gamma"] else "")
        series[f"{label} ({result['task']})"] = result["history"]["loss"]
    figures._line_plot(series).save(out)
    print(f"wrote {out}")


TASKS = {"classifier": classifier, "vae": vae, "rectified-flow": rectified_flow}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=[*TASKS, "state-size", "plot"])
    parser.add_argument("--optimizer", choices=NAMES, default="adamw")
    parser.add_argument("--epochs", type=int, default=10,
                        help="short epochs: 100 (flow) / 120 (VAE) / 78 (classifier) steps")
    parser.add_argument("--mixup", type=float, default=0.0, help="classifier: mixup alpha")
    parser.add_argument("--tailr-gamma", type=float, default=0.0, help="classifier: TaiLr gamma")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--runs", nargs="*", help="plot: run directories")
    parser.add_argument("--out", help="plot: the PNG to write")
    args = parser.parse_args(argv)
    if args.task == "plot":
        return plot(args.runs, args.out)
    if args.task == "state-size":
        print(json.dumps(state_size(args), indent=2))
        return
    if args.workdir is None:
        parser.error("--workdir is needed for a training task")
    settings, seconds, images, results = TASKS[args.task](args)
    history = json.loads((args.workdir / "state" / "training.json").read_text())["history"]
    report = {"task": args.task, "optimizer": settings.to_dict(), "mixup": args.mixup,
              "tailr_gamma": args.tailr_gamma, "epochs": args.epochs, "images": images,
              "backend": keras.backend.backend(), "train_seconds_this_process": seconds,
              "history": history, "metrics": results}
    (args.workdir / "result.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("task", "metrics")}, indent=2))


if __name__ == "__main__":
    main()
