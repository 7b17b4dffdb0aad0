"""The `zoo` command (`python -m zoo`): list, sample, train and evaluate models.

    zoo list
    zoo sample NAME [--num 64] [--steps 50] [--solver euler] [--seed 0] [--out grid.png]
    zoo train RECIPE [--workdir DIR] [--epochs N] [--smoke] [--optimizer lion|adamw|adam|sgd]
    zoo eval NAME [--samplers euler:1,euler:10,rk45@200] [--num 1000] [--bpd-images 100] [--json PATH]

NAME is a registered checkpoint (`zoo list`), a checkpoint directory written as a
path (`./dir`, `runs/x/checkpoint`, `/abs/dir`) or `hf://owner/repo`. The backend is Keras's: set `KERAS_BACKEND=jax|tensorflow|torch`.
A user error (unknown name, missing dataset or file) prints one message, no
traceback, and exits with status 2, like argparse's own usage errors.
"""

import argparse
import importlib.util
import inspect
import json
import math
import os
from pathlib import Path

import keras
import numpy as np
from PIL import Image

import zoo
from zoo import evaluation, training
from zoo.pretrained import describe_models
from zoo.registry import describe_configs, did_you_mean

REPO_ROOT = Path(zoo.__file__).resolve().parents[1]
# Errors that mean "the request cannot be served", not "zoo has a bug": their message
# is the whole story (names, paths and fixes are in it), so no traceback.
# OSError covers a full or read-only disk, a training failure covers a non-finite loss
# and a workdir locked by another run.
USER_ERRORS = (ValueError, OSError, training.NonFiniteLossError, training.WorkdirLocked)


# Pictures ---------------------------------------------------------------------------------

def image_grid(images, nrow, padding=2, pad_value=0):
    """Tile uint8 images `(N, H, W, C)` into one `(rows*(H+p)+p, nrow*(W+p)+p, C)`
    image, `nrow` per row, row-major, with `padding` pixels around each (as
    torchvision's `make_grid`); unused cells stay `pad_value`."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"`images` must be uint8 (N, H, W, C); received {images.dtype} {images.shape}.")
    if nrow < 1:
        raise ValueError(f"`nrow` must be >= 1. Received: {nrow}")
    num, height, width, channels = images.shape
    rows = math.ceil(num / nrow)
    cell_h, cell_w = height + padding, width + padding
    grid = np.full((rows * cell_h + padding, nrow * cell_w + padding, channels), pad_value, np.uint8)
    for i, image in enumerate(images):
        top, left = padding + (i // nrow) * cell_h, padding + (i % nrow) * cell_w
        grid[top:top + height, left:left + width] = image
    return grid


def render_points(points, size=256, extent=None):
    """A `(size, size)` uint8 picture of 2-D points: a log-density histogram, dark on
    white, y up, axes in grey. `extent` is the half-width of the square window;
    by default 4.5 (the toy sets lie within about +-4), widened when more than 1% of
    the points would fall outside."""
    points = np.asarray(points, "float64")
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"`points` must be (N, 2); received {points.shape}.")
    finite = points[np.all(np.isfinite(points), axis=1)]
    if extent is None:
        spread = np.quantile(np.abs(finite), 0.99) if len(finite) else 0.0
        extent = max(4.5, 1.05 * float(spread))
    edges = np.linspace(-extent, extent, size + 1)
    counts, _, _ = np.histogram2d(finite[:, 1], finite[:, 0], bins=(edges, edges))
    counts = counts[::-1]  # histogram rows run up the y axis; image rows run down
    image = np.full((size, size), 255, np.uint8)
    centre = size // 2
    image[centre, :] = image[:, centre] = 200
    if counts.max() > 0:
        shade = np.log1p(counts) / np.log1p(counts.max())
        dots = counts > 0
        # Even a single point stays clearly visible (>= 40% ink).
        image[dots] = np.round(255 * (1.0 - (0.4 + 0.6 * shade[dots]))).astype(np.uint8)
    return image


def write_samples(samples, out, nrow=None):
    """Write samples to `out`: `.npy` as the array, else a picture (any format Pillow
    knows by the extension): an image grid, or a point plot for 2-D data."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        np.save(out, samples)
        return f"array {samples.dtype} {samples.shape}"
    if samples.ndim == 4:
        nrow = nrow or math.ceil(math.sqrt(len(samples)))
        picture = image_grid(samples, nrow)
        what = f"{math.ceil(len(samples) / nrow)}x{nrow} grid of {'x'.join(map(str, samples.shape[1:]))} images"
    elif samples.ndim == 2 and samples.shape[1] == 2:
        picture, what = render_points(samples), f"plot of {len(samples)} points"
    else:
        raise ValueError(f"Cannot draw samples of shape {samples.shape}; write them with --out FILE.npy.")
    if picture.ndim == 3 and picture.shape[-1] == 1:
        picture = picture[..., 0]
    Image.fromarray(picture).save(out)
    return what


def write_point_panels(panels, out, size=256):
    """2-D point sets side by side in one picture, on one shared window (`render_points`
    panels with 8 white pixels between them)."""
    spread = max(float(np.quantile(np.abs(p[np.all(np.isfinite(p), axis=1)]), 0.99)) for p in panels)
    extent = max(4.5, 1.05 * spread)
    gap = np.full((size, 8), 255, np.uint8)
    pictures = [render_points(p, size, extent) for p in panels]
    picture = np.concatenate([x for pair in zip(pictures, [gap] * len(pictures)) for x in pair][:-1], axis=1)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(out)
    return f"{len(panels)} plots of {len(panels[0])} points"


# Commands ---------------------------------------------------------------------------------

def cmd_list(args):
    models = describe_models()
    print("Pretrained checkpoints (zoo.load / zoo sample NAME):")
    _print_table(models.items() if models else [("(none registered yet)", "")])
    print("\nConfigs (zoo.create NAME, untrained):")
    _print_table(describe_configs().items())


def _print_table(rows):
    rows = list(rows)
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"  {name:<{width}}  {description}".rstrip())


def _options(args, names):
    """The options among `names` that the user gave (so the model's defaults hold)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def load_model(name, verify=True):
    """`zoo.load(name)`, with a hint when `name` is a config rather than a checkpoint."""
    try:
        return zoo.load(name, verify=verify)
    except ValueError as err:
        if name in zoo.list_configs():
            raise ValueError(f"{err} ({name!r} is a config, an untrained model for zoo.create; "
                             "train one with `zoo train RECIPE`.)") from err
        raise


def recommended_sampler(name):
    """A registered checkpoint's recommended sampler settings (`{}` for anything else)."""
    if name not in zoo.list_models():
        return {}
    return {k: v for k, v in (zoo.pretrained.get_entry(name).get("sampler") or {}).items()
            if k in ("steps", "solver")}


def check_output(path, force):
    """Before any work: the output `path` must not exist (unless `force`) and its folder
    must be writable, so that a long run never ends in a lost result or a clobbered file."""
    if path is None:
        return
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it, or choose another path.")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # write_samples creates the missing folders
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"Cannot write {path}: {folder} is not writable. Choose another path.")


def cmd_sample(args):
    check_output(args.out, args.force)
    model = load_model(args.name, verify=not args.no_verify)
    if not model.interface.can("sample"):
        raise ValueError(f"{args.name} is a {type(model).__name__}, not a generative model: it has nothing to "
                         "sample. `zoo list` shows the generative checkpoints.")
    recommended = recommended_sampler(args.name)
    if args.solver not in (None, recommended.get("solver")):
        recommended = {}  # another solver: its own defaults, not the recommended steps
    options = {**recommended, **_options(args, ("steps", "solver", "seed", "batch_size", "rtol", "atol",
                                                 "temperature"))}
    if "temperature" in options and not model.interface.can("temperature"):
        raise ValueError(f"{args.name} is a {type(model).__name__}, whose sampler has no temperature: "
                         "--temperature is for the flows (NICE, RealNVP, Glow). Leave it out.")
    if args.labels is not None:
        options["labels"] = sample_labels(model, args.labels, args.num)
    guidance = args.guidance
    if guidance is None and "labels" in options and args.name in zoo.list_models():
        guidance = (zoo.pretrained.get_entry(args.name).get("sampler") or {}).get("guidance")  # recommended
    if guidance is not None:
        if "labels" not in options:
            raise ValueError("--guidance is the classifier-free guidance scale of class-conditional samples: "
                             "give the classes too, e.g. --labels all --guidance 2.")
        options["guidance"] = guidance
    truths, nrow = None, args.nrow
    if model.interface.can("source"):
        options["source"], truths = read_sources(model, args.source, args.num)
    elif args.source is not None:
        raise ValueError(f"--source is for diffusion bridges (translation); {args.name} is a "
                         f"{type(model).__name__}, which samples from noise. Leave it out.")
    samples, nfe = model.sample(None if "source" in options else args.num, **options, return_nfe=True, verbose=True)
    samples = np.asarray(samples)
    if "source" in options and Path(args.out).suffix.lower() != ".npy":
        # Side by side: source | translation (| the source's own target, from a split).
        columns = [options["source"], samples] + ([truths] if truths is not None else [])
        if samples.ndim == 2:
            what = write_point_panels(columns, args.out)
            print(f"NFE: {nfe}")
            print(f"Wrote {args.out} ({what}: sources | translations{' | targets' if truths is not None else ''})")
            return
        samples = np.stack(columns, axis=1).reshape(-1, *samples.shape[1:])
        nrow = nrow or len(columns) * math.ceil(math.sqrt(len(options["source"])))
    what = write_samples(samples, args.out, nrow)
    print(f"NFE: {nfe}")
    print(f"Wrote {args.out} ({what})")


def read_sources(model, text, num):
    """`--source` of a bridge: "test" or "train" (the first `num` sources of the
    checkpoint's paired set, with their targets), or a .npy / image file of sources (a
    PNG holds one image, or a grid of images of the model's size). Returns
    `(sources as `sample` takes them, targets or None)`."""
    if text is None:
        raise ValueError("This checkpoint translates sources (a diffusion bridge): give --source test (the first "
                         "--num test sources of its paired set), --source train, or a .npy / PNG file of sources.")
    if text in zoo.datasets.SPLITS:
        dataset = (getattr(model, "checkpoint_metadata", None) or {}).get("dataset")
        if dataset not in zoo.datasets.PAIRED_DATASETS:
            raise ValueError(f"--source {text}: the checkpoint's metadata names no paired dataset; give a file.")
        return zoo.datasets.load_pairs(dataset, text, num=num)
    path = Path(text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"--source {text}: no such file; give 'test', 'train', or a .npy / PNG file.")
    if path.suffix.lower() == ".npy":
        sources = np.load(path)
    else:
        picture = np.asarray(Image.open(path).convert("L" if model.data_shape[-1] == 1 else "RGB"))
        picture = picture.reshape(*picture.shape[:2], -1)
        height, width = model.data_shape[:2]
        if picture.shape[0] % height or picture.shape[1] % width:
            raise ValueError(f"--source {text}: a {picture.shape[1]}x{picture.shape[0]} picture is not a grid of "
                             f"{width}x{height} images, the model's size.")
        rows, cols = picture.shape[0] // height, picture.shape[1] // width
        sources = picture.reshape(rows, height, cols, width, -1).transpose(0, 2, 1, 3, 4).reshape(
            rows * cols, height, width, -1)
    if model.is_image:
        return model.check_images(sources, "--source"), None
    return model.check_array(sources, "--source"), None


def sample_labels(model, text, num):
    """`--labels`: comma-separated classes (ids or names of the checkpoint's dataset), or
    "all" for every class; the `num` samples go to them in equal consecutive blocks, so
    with `--nrow num/len(classes)` each grid row is one class."""
    num_classes = model.num_classes
    if num_classes is None:
        raise ValueError("--labels: this model is unconditional (its network has no classes); leave it out.")
    dataset = (getattr(model, "checkpoint_metadata", None) or {}).get("dataset")
    names = list(zoo.datasets.CLASS_NAMES.get(dataset, []))
    classes = []
    for item in [t.strip() for t in text.split(",") if t.strip()]:
        if item == "all":
            classes += range(num_classes)
        elif item.isdigit() and int(item) < num_classes:
            classes.append(int(item))
        elif item in names:
            classes.append(names.index(item))
        else:
            known = f" or a name ({', '.join(names)})" if names else ""
            raise ValueError(f"--labels: unknown class {item!r}; give an id 0..{num_classes - 1}{known}, "
                             "or 'all'.")
    if not classes or num % len(classes):
        raise ValueError(f"--labels: {num} samples do not split evenly over {len(classes)} classes; make --num "
                         f"a multiple of {max(len(classes), 1)}.")
    return np.repeat(np.asarray(classes, "int32"), num // len(classes))


def find_recipe(recipe):
    """A recipe file: the path given, or `recipes/<name with - -> _>.py` under the
    current directory or the repository root."""
    if recipe.endswith(".py") or "/" in recipe or "\\" in recipe:
        path = Path(recipe).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"No recipe file at {path}.")
        return path
    stem = recipe.replace("-", "_")
    roots = list(dict.fromkeys([Path.cwd(), REPO_ROOT]))
    for root in roots:
        path = root / "recipes" / f"{stem}.py"
        if path.is_file():
            return path
    known = sorted({p.stem.replace("_", "-") for root in roots for p in (root / "recipes").glob("*.py")
                    if not p.name.startswith("_")})
    raise ValueError(f"Unknown recipe {recipe!r}.{did_you_mean(recipe, known)} Known recipes: "
                     f"{', '.join(known) or 'none'} (in {' and '.join(str(r / 'recipes') for r in roots)}). "
                     "A path to a recipe .py file works too.")


def load_recipe(path):
    """Import a recipe file as a module (it need not be on `sys.path`)."""
    spec = importlib.util.spec_from_file_location(f"zoo_recipe_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "main", None)):
        raise ValueError(f"Recipe {path} has no main(workdir=..., epochs=..., smoke=...) function.")  # noqa: TRY004 (a user error: exit 2)
    return module


def cmd_train(args):
    path = find_recipe(args.recipe)
    recipe = load_recipe(path)
    workdir = Path(args.workdir or Path("runs") / path.stem.replace("_", "-"))
    kwargs = {"workdir": str(workdir), **_options(args, ("epochs", "resume_from"))}
    if "resume_from" in kwargs and "resume_from" not in inspect.signature(recipe.main).parameters:
        raise ValueError(f"Recipe {path} cannot warm-start: its main() takes no `resume_from`. Add the argument "
                         "and pass it to `zoo.training.train(..., resume_from=resume_from)`.")
    settings = {key: value for key, value in (("name", args.optimizer), ("learning_rate", args.learning_rate),
                                              ("weight_decay", args.weight_decay),
                                              ("warmup_steps", args.warmup_steps)) if value is not None}
    if settings:
        if "optimizer" not in inspect.signature(recipe.main).parameters:
            raise ValueError(f"Recipe {path} takes no optimizer settings: its main() has no `optimizer`. Add the "
                             "argument and build its optimizer with `zoo.optimizers.resolve(OPTIMIZER, optimizer)`.")
        kwargs["optimizer"] = settings
    if args.smoke:
        kwargs["smoke"] = True
    print(f"Recipe {path} -> {workdir} ({keras.backend.backend()} backend)")
    with training.time_limit(None if args.time_limit is None else 60 * args.time_limit):
        try:
            recipe.main(**kwargs)
        except training.OutOfTime as stopped:
            print(stopped)
            return
    checkpoint = workdir / "checkpoint"
    if checkpoint.is_dir():
        print(f"Checkpoint: {checkpoint}  (zoo sample {checkpoint})")


def eval_samplers(args):
    """The sampler settings to evaluate: `--samplers`, else the registered entry's
    `eval_samplers`, else `--solver`/`--steps`."""
    if args.samplers:
        return [s for s in args.samplers.split(",") if s.strip()]
    if args.solver is None and args.steps is None and args.name in zoo.list_models():
        listed = zoo.pretrained.get_entry(args.name).get("eval_samplers")
        if listed:
            return listed
    solver = args.solver or "euler"
    return [solver if solver == "rk45" else f"{solver}:{args.steps or 50}"]


def cmd_eval(args):
    check_output(args.json, args.force)
    model = load_model(args.name, verify=not args.no_verify)
    options = {"samplers": eval_samplers(args), "num": args.num, "seed": args.seed,
               "bpd_images": args.bpd_images, "straightness_steps": args.straightness_steps,
               "test_points": args.test_points, "reference_images": args.reference_images,
               "rtol": args.rtol, "atol": args.atol, "feature_network": args.feature_network,
               "verbose": True}
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    ev, results = evaluation.evaluate(model, metrics=metrics, **options)
    print(f"\n{args.name}: {ev.dataset}, {keras.backend.backend()} backend")
    width = max(len(r.name) for r in results)
    print(f"  {'metric':<{width}}  {'value':>10}  {'± s.e.':>8}")
    for r in results:
        stderr = f"{r.stderr:8.4f}" if r.stderr is not None else " " * 8
        print(f"  {r.name:<{width}}  {r.value:10.4f}  {stderr}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(evaluation.report(args.name, ev, results), indent=2) + "\n")
        print(f"Wrote {path}")


def cmd_push(args):
    entry = zoo.push_to_hub(Path(args.directory), args.repo_id, name=args.name, token=args.token,
                            private=args.private)
    print(f"Pushed {args.directory} to {args.repo_id} at revision {entry['hub']['revision']}.")
    print("checkpoints.json entry (fill in description, dataset, metrics, training):")
    print(json.dumps({args.name or args.repo_id.split("/")[-1]: entry}, indent=2))


# Arguments --------------------------------------------------------------------------------

def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0 skips the metric), got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="zoo", description="Generative models for Keras 3 (JAX, TensorFlow, PyTorch). "
        "The backend is $KERAS_BACKEND.")
    parser.add_argument("--version", action="version", version=f"zoo {zoo.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    name_help = "a registered checkpoint (zoo list), a checkpoint directory, or hf://owner/repo"
    no_verify_help = ("load a Hub repository or directory that has no SHA256SUMS manifest (its files are then "
                      "not checked against corruption or tampering)")

    commands.add_parser("list", help="pretrained checkpoints and named configs")

    sample = commands.add_parser("sample", help="draw samples and write a PNG grid (or .npy)")
    sample.add_argument("name", metavar="NAME", help=name_help)
    sample.add_argument("--num", type=_positive, default=64, help="number of samples (default 64)")
    sample.add_argument("--steps", type=_positive,
                        help="solver steps (default: the checkpoint's recommended, else 50)")
    sample.add_argument("--solver", help="one of the family's solvers, e.g. euler, heun, dpmpp-2m or rk45 "
                        "(default: the checkpoint's recommended, else euler)")
    sample.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    sample.add_argument("--out", default="grid.png", help="output .png (grid or point plot) or .npy")
    sample.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    sample.add_argument("--no-verify", action="store_true", help=no_verify_help)
    sample.add_argument("--rtol", type=float, help="rk45 relative tolerance")
    sample.add_argument("--atol", type=float, help="rk45 absolute tolerance")
    sample.add_argument("--batch-size", type=_positive, help="samples per compiled call")
    sample.add_argument("--nrow", type=_positive, help="images per grid row (default: square grid)")
    sample.add_argument("--temperature", type=_positive_float,
                        help="flows: scale of the base draws (Glow's T; default 1)")
    sample.add_argument("--labels", help="class-conditional models: comma-separated classes (ids or names, e.g. "
                        "cat,dog) or 'all', in equal blocks of samples (default: unconditional)")
    sample.add_argument("--source", help="diffusion bridges: 'test' or 'train' (the first --num sources of the "
                        "checkpoint's paired set, drawn beside their translations and true targets) or a .npy / PNG "
                        "file of sources")
    sample.add_argument("--guidance", type=float,
                        help="with --labels: classifier-free guidance scale w (default: the checkpoint's recommended, "
                             "else 1: conditional; 0: unconditional; > 1 sharpens)")

    train = commands.add_parser("train", help="run a training recipe (resumes from its workdir)")
    train.add_argument("recipe", metavar="RECIPE",
                       help="a recipe .py file, or a name: rectified-flow-cifar -> recipes/rectified_flow_cifar.py")
    train.add_argument("--workdir", help="run directory (default runs/<recipe name>)")
    train.add_argument("--epochs", type=_positive, help="total epochs (default: the recipe's)")
    train.add_argument("--resume-from", metavar="CHECKPOINT",
                       help="warm-start from this checkpoint when the workdir has no training state")
    train.add_argument("--smoke", action="store_true", help="a seconds-long run of the same code path")
    train.add_argument("--time-limit", type=float, metavar="MINUTES",
                       help="stop at the last epoch boundary within MINUTES (rerun to resume)")
    train.add_argument("--optimizer", choices=zoo.optimizers.NAMES,
                       help="train with this optimizer instead of the recipe's; Adam(W) <-> Lion settings convert by "
                            "Lion's rule (rate / 3, weight decay x 3, a warm-up)")
    train.add_argument("--learning-rate", type=_positive_float, help="peak learning rate (overrides the recipe's)")
    train.add_argument("--weight-decay", type=float, help="decoupled weight decay (overrides the recipe's)")
    train.add_argument("--warmup-steps", type=int, help="linear warm-up steps (overrides the recipe's)")

    evaluate = commands.add_parser("eval", help="likelihood and sample metrics on the test set")
    evaluate.add_argument("name", metavar="NAME", help=name_help)
    evaluate.add_argument("--no-verify", action="store_true", help=no_verify_help)
    evaluate.add_argument("--num", type=_positive, default=1000,
                          help="samples per sampler setting / paths (default 1000)")
    evaluate.add_argument("--samplers", help="comma-separated SOLVER[:STEPS][+wGUIDANCE][@NUM] settings, e.g. "
                          "euler:1,euler:10,rk45@200; +wW: classifier-free guidance scale of a "
                          "class-conditional model, heun:18+w2 (default: the checkpoint's eval_samplers, else "
                          "--solver/--steps)")
    evaluate.add_argument("--steps", type=_positive, help="solver steps for one setting (default 50)")
    evaluate.add_argument("--solver", help="one of the family's solvers (euler, heun, dpmpp-2m, rk45, ...) for one "
                          "setting (default euler)")
    evaluate.add_argument("--seed", type=int, default=0, help="sampling and dequantization seed (default 0)")
    evaluate.add_argument("--bpd-images", type=_count, default=100,
                          help="image models: test images for bits/dim (default 100; 0 skips it)")
    evaluate.add_argument("--straightness-steps", type=_count, default=100,
                          help="Euler steps of the paths whose straightness is measured (0 skips it)")
    evaluate.add_argument("--test-points", type=_positive, default=2000,
                          help="2-D models: test points for likelihood and distances (default 2000)")
    evaluate.add_argument("--rtol", type=float, default=1e-5,
                          help="RK45 relative tolerance of the likelihood ODE (default 1e-5)")
    evaluate.add_argument("--atol", type=float, default=1e-5,
                          help="RK45 absolute tolerance of the likelihood ODE (default 1e-5)")
    evaluate.add_argument("--reference-images", type=_positive, default=10_000,
                          help="test images in the FD-classifier reference set (default 10000)")
    evaluate.add_argument("--feature-network", metavar="CLASSIFIER",
                          help="classifier checkpoint for FD-classifier (default classifier-cifar for CIFAR-10)")
    evaluate.add_argument("--metrics", metavar="NAMES",
                          help="comma-separated subset of the family's metrics, e.g. negative_log_likelihood "
                               "to skip sampling (default: all it declares)")
    evaluate.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    evaluate.add_argument("--force", action="store_true", help="overwrite --json if it exists")

    push = commands.add_parser("push", help="upload a checkpoint directory to the Hugging Face Hub")
    push.add_argument("directory", metavar="DIR", help="checkpoint directory (config.json ...)")
    push.add_argument("repo_id", metavar="OWNER/NAME", help="Hub repository")
    push.add_argument("--name", help="checkpoint name for the card (default: the repo's name)")
    push.add_argument("--token", help="Hub token (default: HF_TOKEN / the logged-in one)")
    push.add_argument("--private", action="store_true", help="create the repository private")
    return parser


COMMANDS = {"list": cmd_list, "sample": cmd_sample, "train": cmd_train, "eval": cmd_eval,
            "push": cmd_push}


def main(argv=None):
    """Run the `zoo` command line; returns 0, or exits with status 2 on a user error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except USER_ERRORS as err:
        parser.exit(2, f"zoo {args.command}: error: {err}\n")
    return 0
