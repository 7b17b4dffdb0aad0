"""Bundle a trained checkpoint into the local mirror and register it in checkpoints.json.

Copies `<run>/checkpoint` to `zoo/weights/<name>/`, draws `samples.png` with the
recommended sampler, measures the metrics with `zoo eval`, writes the model card
(README.md) and the entry (file sha256 and sizes, metrics, training facts).

    KERAS_BACKEND=jax python scripts/bundle.py rectified-flow-moons runs/rectified-flow-moons \\
        --config rectified_flow_mlp --dataset moons --steps 100 \\
        --description "1-rectified flow on two moons (MLP)"

A classifier (no sampler) gets no grid; its metric is test accuracy. Metrics measured
elsewhere (on a lent GPU: `zoo eval ... --json`) come in with `--metrics-from JSON`, as
must a noise-aware classifier's, which `zoo eval` does not measure:

    KERAS_BACKEND=torch python scripts/guidance_moons.py --classifier runs/noisy-classifier-moons/checkpoint \\
        --models edm-moons:heun:18 --sigmas 0.01,1,10 --scales 1,2 --json guidance.json
    python scripts/bundle.py noisy-classifier-moons runs/noisy-classifier-moons --config noisy_classifier_mlp \\
        --dataset moons --metrics-from guidance.json --description "..."

Metrics measured later (more samples, a new sampler setting) go into a bundled entry with
`--update-metrics`, which leaves the weights, images and training facts as they are:

    KERAS_BACKEND=torch zoo eval rectified-flow-cifar-1step --samplers euler:1@10000 --json eval10k.json
    python scripts/bundle.py rectified-flow-cifar-1step --update-metrics eval10k.json \\
        --drop-metric fd_classifier_floor_train_2000 --eval-samplers euler:1@10000 --notes "..."

The Hub revision stays null until `scripts/publish.py --write` pushes it.
"""

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import keras

from zoo import cli, hub, pretrained
from zoo.checkpoint import MANIFEST_FILE, REQUIRED_FILES, write_atomically, write_manifest
from zoo.optimizers import describe as describe_optimizer
from zoo.pretrained import validate_entry
from zoo.samplers.settings import SamplerSetting

ORG = "zoo-models"
CPU = "2-core x86-64 CPU (no GPU), the project's development machine"


def read_metrics(report):
    """The metrics of a `zoo eval --json` report, keyed by slug, rounded for the registry."""
    measured = json.loads(report.read_text())["metrics"]
    return {slug(name): {"value": round(m["value"], 5), "how": m["how"]} for name, m in measured.items()}


def measure(directory, args):
    if args.metrics_from:
        return read_metrics(args.metrics_from)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "eval.json"
            cli.main(["eval", str(directory), "--num", str(args.eval_num), "--steps", str(args.steps),
                      "--solver", args.solver, "--bpd-images", str(args.bpd_images),
                      "--straightness-steps", str(args.straightness_steps), "--json", str(report)])
            return read_metrics(report)


def slug(name):
    """'NN distance sample->data' -> 'nn_distance_sample_to_data'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower().replace("->", " to ").replace("/", " per ")).strip("_")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("run", type=Path, nargs="?", help="training workdir holding checkpoint/")
    parser.add_argument("--config")
    parser.add_argument("--dataset")
    parser.add_argument("--description")
    parser.add_argument("--recipe", help="default recipes/<name with - -> _>.py")
    parser.add_argument("--solver", default="euler")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--num", type=int, default=64, help="samples in samples.png")
    parser.add_argument("--nrow", type=int, help="images per row of samples.png (default: square)")
    parser.add_argument("--labels", help="class-conditional models: the classes of samples.png (`zoo sample "
                        "--labels`, e.g. all)")
    parser.add_argument("--guidance", type=float, help="with --labels: the recommended classifier-free "
                        "guidance scale, used for samples.png and recorded with the sampler")
    parser.add_argument("--eval-num", type=int, default=2000, help="samples / paths for sample metrics")
    parser.add_argument("--bpd-images", type=int, default=100, help="test images for bits/dim")
    parser.add_argument("--straightness-steps", type=int, default=100)
    parser.add_argument("--hardware", default=CPU)
    parser.add_argument("--backend", default=None, help="backend the run trained on")
    parser.add_argument("--license", default="apache-2.0")
    parser.add_argument("--metrics-from", type=Path, metavar="JSON",
                        help="take the metrics from this `zoo eval --json` report instead of measuring")
    parser.add_argument("--eval-samplers", help="comma-separated settings `zoo eval NAME` measures by default")
    parser.add_argument("--command", help="the training command for the card (default: zoo train RECIPE)")
    parser.add_argument("--notes", help="free text for the model card (deviations, weaknesses)")
    parser.add_argument("--extra-images", nargs="*", default=[], type=Path, metavar="PNG",
                        help="more sample grids from the run (e.g. flows at temperature 0.7), bundled and "
                             "shown in the card")
    parser.add_argument("--update-metrics", type=Path, metavar="JSON",
                        help="merge this `zoo eval --json` report into the bundled entry's metrics (it replaces "
                             "metrics of the same name) and rewrite its card; nothing else is copied or measured")
    parser.add_argument("--recommend", metavar="SOLVER:STEPS",
                        help="with --update-metrics: a new recommended sampler; samples.png is redrawn with it")
    parser.add_argument("--drop-metric", action="append", default=[], metavar="SLUG",
                        help="with --update-metrics: remove this metric from the entry (repeatable)")
    args = parser.parse_args(argv)
    if args.update_metrics:
        return update_metrics(parser, args)
    missing = [f"--{name}" for name in ("config", "dataset", "description") if getattr(args, name) is None]
    if args.run is None or missing:
        parser.error(f"bundling a run needs RUN and {', '.join(missing) or 'the options'} "
                     "(or --update-metrics JSON to re-measure a bundled entry)")

    source = args.run / "checkpoint"
    recipe = args.recipe or f"recipes/{args.name.replace('-', '_')}.py"
    metadata = json.loads((source / "metadata.json").read_text())
    training = metadata.get("training", {})
    target = pretrained.MIRROR_DIR / args.name
    family = keras.saving.get_registered_object(f"zoo>{metadata['family']}")
    generative = family.interface.can("sample")  # classifiers, plain or noise-aware, draw no grid
    if family.interface.no_metrics and not args.metrics_from:
        parser.error(f"{family.interface.no_metrics} Pass their JSON with --metrics-from.")

    def copy(tmp):
        for name in REQUIRED_FILES:
            shutil.copy2(source / name, tmp / name)
        if generative:
            draw_samples(source, tmp / "samples.png", args, family.interface.can("source"))
        for image in args.extra_images:
            shutil.copy2(image, tmp / image.name)
        write_manifest(tmp)  # a copy of the directory verifies itself (zoo.load("./dir"))

    write_atomically(target, copy, overwrite=True)
    images = (["samples.png"] if generative else []) + [image.name for image in args.extra_images]
    files = hub.file_table(target, [*REQUIRED_FILES, *images, MANIFEST_FILE])
    backend = args.backend or metadata.get("backend")
    entry = {
        "description": args.description,
        "family": metadata["family"],
        "config": args.config,
        "hub": {"repo_id": f"{ORG}/{args.name}", "revision": None},
        "files": files,
        "parameters": metadata["parameters"],
        "dataset": args.dataset,
        "recipe": recipe,
        "sampler": ({"solver": args.solver, "steps": args.steps,
                     **({"guidance": args.guidance} if args.guidance is not None else {})}
                    if generative else None),
        "metrics": measure(target, args),
        "training": {
            "hardware": args.hardware,
            "wall_time": f"{training.get('wall_seconds', 0) / 60:.1f} min ({backend} backend)",
            "images_seen": int(training.get("images_seen") or 0),
            "command": args.command or f"KERAS_BACKEND={backend} zoo train {recipe} --workdir {args.run}",
            # What `zoo.training.train` recorded (runs with `OptimizerSettings`, i.e. every recipe).
            **({"optimizer": describe_optimizer(training["optimizer"])} if training.get("optimizer") else {}),
        },
        "license": args.license,
    }
    if args.eval_samplers:
        entry["eval_samplers"] = [s.strip() for s in args.eval_samplers.split(",") if s.strip()]
    if args.notes:
        entry["notes"] = args.notes
    register(args.name, entry, target)
    return 0


def draw_samples(source, out, args, translates=False):
    """`samples.png`: the recommended sampler (`args.solver`, `args.steps`), seed 0."""
    extra = [*(["--nrow", str(args.nrow)] if args.nrow else []),
             *(["--labels", args.labels] if args.labels else []),
             *(["--guidance", str(args.guidance)] if args.guidance is not None else []),
             *(["--source", "test"] if translates else [])]
    cli.main(["sample", str(source), "--num", str(args.num), "--steps", str(args.steps),
              "--solver", args.solver, "--seed", "0", *extra, "--out", str(out)])


def register(name, entry, target):
    """Validate `entry`, write its model card into `target` and its line in checkpoints.json."""
    validate_entry(name, entry)
    generative = entry["sampler"] is not None
    (target / "README.md").write_text(hub.render_model_card(name, entry,
                                                            sample_image="samples.png" if generative else None))
    registry = json.loads(pretrained.REGISTRY_FILE.read_text())
    registry["checkpoints"][name] = entry
    registry["checkpoints"] = dict(sorted(registry["checkpoints"].items()))
    pretrained.REGISTRY_FILE.resolve().write_text(json.dumps(registry, indent=2) + "\n")
    print(json.dumps({name: entry}, indent=2))


def update_metrics(parser, args):
    """`--update-metrics`: new measurements for an entry that is already bundled."""
    registry = json.loads(pretrained.REGISTRY_FILE.read_text())["checkpoints"]
    if args.name not in registry:
        parser.error(f"{args.name!r} is not in {pretrained.REGISTRY_FILE}: bundle its run first.")
    entry = registry[args.name]
    measured = read_metrics(args.update_metrics)  # first in the card, then what the entry had besides
    metrics = {**measured, **{name: m for name, m in entry["metrics"].items() if name not in measured}}
    unknown = [name for name in args.drop_metric if name not in metrics]
    if unknown:
        parser.error(f"--drop-metric {', '.join(unknown)}: no such metric in {args.name} "
                     f"(it has {', '.join(metrics)}).")
    entry["metrics"] = {name: m for name, m in metrics.items() if name not in args.drop_metric}
    if args.eval_samplers:
        entry["eval_samplers"] = [s.strip() for s in args.eval_samplers.split(",") if s.strip()]
    if args.notes:
        entry["notes"] = args.notes
    if args.description:
        entry["description"] = args.description
    target = pretrained.MIRROR_DIR / args.name
    if args.recommend:  # a new recommended sampler: samples.png is redrawn with it
        setting = SamplerSetting.parse(args.recommend)
        args.solver, args.steps = setting.solver, setting.steps

        def redraw(tmp):
            for path in target.iterdir():
                if path.name not in ("samples.png", MANIFEST_FILE):
                    shutil.copy2(path, tmp / path.name)
            draw_samples(target, tmp / "samples.png", args)
            write_manifest(tmp)

        write_atomically(target, redraw, overwrite=True)
        entry["sampler"] = {"solver": setting.solver, **({"steps": setting.steps} if setting.steps else {})}
        entry["files"] = hub.file_table(target, list(entry["files"]["sha256"]))
    register(args.name, entry, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
