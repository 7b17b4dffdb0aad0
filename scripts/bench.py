"""Benchmark `rectified_flow_small` (the CPU CIFAR-10 config) per backend: training
images/s with `fit`, sampling images/s with a fixed-step solver, and peak memory.

    python scripts/bench.py                                  # the current backend
    python scripts/bench.py --backends jax,tensorflow,torch --train-steps 3
    python scripts/bench.py --sample --backends jax,tensorflow,torch  # the README's main job

`--sample` times the phases of the README's first command (`zoo sample
rectified-flow-cifar --num 64`, the checkpoint's recommended sampler unless `--solver` or
`--sample-steps` say otherwise) in a fresh process per backend: importing
zoo (with Keras and the backend), `zoo.load`, the first batch (tracing and compiling
the sampler, then running it) and the steady state (the same call again). It also
reports the achieved FLOP/s of the steady state (the network's forward FLOPs per image,
counted by XLA's cost analysis in a JAX process) against a float32 matmul on the same
backend: how close sampling runs to what this machine computes.

`--peer` adds the PyTorch peer: a diffusers `UNet2DModel` of exactly the same shape and
parameter count (32 channels, mults 1-2-2, 2 res blocks per level, attention at 8x8,
GroupNorm 8, dropout 0.1; 1,624,323 parameters), trained with the same rectified-flow loss, AdamW and
an EMA of the weights, and sampled with the same Euler loop in plain PyTorch eager, and
prints each backend's images/s as a ratio of the peer's. diffusers is a bench-only dependency
(`pip install "zoo[bench]"`); the zoo never imports it.

    python scripts/bench.py --peer --backends jax,tensorflow,torch

`--mfu` (for a GPU) times the training step of a larger config (`rectified_flow_base` by
default) in `mixed_bfloat16` on each backend and reports model FLOP utilization: images/s
x training FLOPs per image (3x the forward pass's, counted by XLA's cost analysis: the
backward pass costs twice the forward) against the device's dense bf16 peak (looked up
for H100 / H200 / A100, else `--peak-tflops`).

    python scripts/bench.py --mfu --backends jax,torch --batch-size 128 --train-steps 50

Each backend runs in its own subprocess (KERAS_BACKEND set), so peak memory
(`ru_maxrss` of that process) is the backend's alone. Timings exclude a warm-up
call (tracing, XLA / tf.function compilation), which is reported separately.
Random data: the speed of a step does not depend on what the pixels are.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

CONFIG = "rectified_flow_small"
MAIN_JOB = "rectified-flow-cifar"  # the README's first command samples it
RESULT_PREFIX = "BENCH_RESULT "
PEER = "peer"  # `run_backend`'s name for the diffusers peer's subprocess


def time_fit(model, batch, steps):
    """`(warm-up s, s for `steps` timed steps)` of `fit` with AdamW on uniform random data
    (the speed of a step does not depend on the pixels); the warm-up traces and compiles."""
    import keras
    import numpy as np

    model.compile(optimizer=keras.optimizers.AdamW(2e-4))
    data = np.random.default_rng(0).uniform(-1, 1, (batch * steps, *model.data_shape)).astype("float32")
    start = time.perf_counter()
    model.fit(data[:batch], batch_size=batch, epochs=1, verbose=0)
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(data, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return warmup, time.perf_counter() - start


def worker(args):
    """Runs in the backend's subprocess; prints one RESULT_PREFIX JSON line."""
    import keras

    import zoo

    batch = args.batch_size
    model = zoo.create(CONFIG, seed=0)  # with its EMA, as the recipe trains it
    assert model.network.dropout == PEER_UNET["dropout"], "the peer must train with the same dropout"
    train_warmup, train_seconds = time_fit(model, batch, args.train_steps)

    options = {"steps": args.sample_steps, "solver": args.solver, "batch_size": batch}
    start = time.perf_counter()
    model.sample(batch, seed=0, **options)
    sample_warmup = time.perf_counter() - start
    start = time.perf_counter()
    model.sample(batch, seed=1, **options)
    sample_seconds = time.perf_counter() - start

    result = {
        "backend": keras.backend.backend(),
        "parameters": int(model.network.count_params()),
        "train_images_per_s": batch * args.train_steps / train_seconds,
        "train_warmup_s": train_warmup,
        "sample_images_per_s": batch / sample_seconds,
        "sample_warmup_s": sample_warmup,
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)


EMA_DECAY = 0.999
PEER_UNET = {"sample_size": 32, "in_channels": 3, "out_channels": 3, "block_out_channels": (32, 64, 64),
             "layers_per_block": 2, "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
             "up_block_types": ("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), "norm_num_groups": 8,
             "dropout": 0.1}  # as `rectified_flow_small`'s residual blocks (the zoo worker checks it)


def peer_worker(args):
    """The diffusers peer in PyTorch eager (the same measurements as `worker`); prints one
    RESULT_PREFIX JSON line."""
    import torch
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    batch = args.batch_size
    unet = UNet2DModel(**PEER_UNET)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=2e-4)
    parameters = list(unet.parameters())
    ema = [p.detach().clone() for p in parameters]  # the zoo model keeps an EMA too (one fused update)
    data = torch.rand(batch * args.train_steps, 3, 32, 32) * 2 - 1

    def train_step(x1):
        x0, t = torch.randn_like(x1), torch.rand(len(x1))
        xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * x1
        loss = torch.mean((unet(xt, t * 999).sample - (x1 - x0)) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in parameters], 1.0 - EMA_DECAY)

    @torch.no_grad()
    def sample():  # Euler on dx/dt = v(x, t) from noise (t = 0) to data (t = 1)
        x = torch.randn(batch, 3, 32, 32)
        for i in range(args.sample_steps):
            t = torch.full((batch,), i / args.sample_steps)
            x = x + unet(x, t * 999).sample / args.sample_steps
        return x

    start = time.perf_counter()
    train_step(data[:batch])
    train_warmup = time.perf_counter() - start
    start = time.perf_counter()
    for step in range(args.train_steps):
        train_step(data[step * batch:(step + 1) * batch])
    train_seconds = time.perf_counter() - start
    unet.eval()
    start = time.perf_counter()
    sample()
    sample_warmup = time.perf_counter() - start
    start = time.perf_counter()
    sample()
    sample_seconds = time.perf_counter() - start
    result = {"backend": "diffusers peer (torch eager)", "parameters": sum(p.numel() for p in unet.parameters()),
              "train_images_per_s": batch * args.train_steps / train_seconds, "train_warmup_s": train_warmup,
              "sample_images_per_s": batch / sample_seconds, "sample_warmup_s": sample_warmup,
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def sample_worker(args):
    """The main job's phases, in a fresh process; prints one RESULT_PREFIX JSON line."""
    start = time.perf_counter()
    import keras

    import zoo
    imported = time.perf_counter()
    model = zoo.load(MAIN_JOB)
    loaded = time.perf_counter()
    options = {"steps": args.sample_steps, "solver": args.solver, "batch_size": args.batch_size}
    model.sample(args.batch_size, seed=0, **options)
    first = time.perf_counter()
    _, evaluations = model.sample(args.batch_size, seed=0, return_nfe=True, **options)
    steady = time.perf_counter() - first
    matmul = matmul_flops_per_s()
    result = {"matmul_gflops": matmul / 1e9, "backend": keras.backend.backend(), "import_s": imported - start,
              "load_s": loaded - imported,
              "first_batch_s": first - loaded, "steady_batch_s": steady, "to_first_batch_s": first - start,
              "images_per_s_per_evaluation": args.batch_size * evaluations / steady}
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity) by a substring of the device's name.
PEAK_BF16_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0}


def describe_device():
    """The accelerator the current backend computes on, by name ("cpu" if none)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        device = jax.devices()[0]
        return "cpu" if device.platform == "cpu" else device.device_kind
    if backend == "torch":
        import torch
        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else "cpu"


def mfu_worker(args):
    """The training step of `args.config` in mixed_bfloat16; prints one RESULT_PREFIX JSON line."""
    import keras

    import zoo

    keras.config.set_dtype_policy("mixed_bfloat16")
    batch = args.batch_size
    model = zoo.create(args.config, seed=0)
    warmup, seconds = time_fit(model, batch, args.train_steps)
    result = {"backend": keras.backend.backend(), "device": describe_device(), "config": args.config,
              "parameters": int(model.network.count_params()), "train_images_per_s": batch * args.train_steps / seconds,
              "train_warmup_s": warmup}
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def peak_tflops(device, given=None):
    """`given`, else the dense bf16 peak of a known accelerator, else None."""
    if given:
        return given
    return next((peak for name, peak in PEAK_BF16_TFLOPS.items() if name in device), None)


def mfu_table(results, args, flops_per_image):
    lines = [f"| backend | device | train img/s (batch {args.batch_size}, mixed_bfloat16) | TFLOP/s | peak TFLOP/s "
             "| MFU |", "|---|---|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['backend']} | failed (exit {r['error']}) | | | | |")
            continue
        achieved = r["train_images_per_s"] * 3 * flops_per_image / 1e12 if flops_per_image else None
        peak = peak_tflops(r["device"], args.peak_tflops)
        mfu = f"{achieved / peak:.1%}" if achieved and peak else ""
        lines.append(f"| {r['backend']} | {r['device']} | {r['train_images_per_s']:.0f} "
                     f"| {'' if achieved is None else f'{achieved:.3g}'} | {peak or ''} | {mfu} |")
    return "\n".join(lines)


def matmul_flops_per_s(size=1024, repeats=5):
    """The best FLOP/s of a float32 `size` x `size` matmul on the current backend."""
    import keras
    import numpy as np

    a = keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=(size, size)).astype("float32"))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, a))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


def flops_worker(args):
    """Runs on JAX: the forward FLOPs per image (XLA cost analysis) of the main job's network,
    or with `--mfu` of `--config`'s."""
    import jax
    import numpy as np

    import zoo

    model = zoo.create(args.config, seed=0) if args.mfu else zoo.load(MAIN_JOB)
    network = model.network if args.mfu else model.averaged("network")
    x, t = np.zeros((args.batch_size, *model.data_shape), "float32"), np.zeros((args.batch_size,), "float32")
    trainable = [v.value for v in network.trainable_variables]
    frozen = [v.value for v in network.non_trainable_variables]

    def forward(trainable, frozen, x, t):
        return network.stateless_call(trainable, frozen, x, t)[0]

    cost = jax.jit(forward).lower(trainable, frozen, x, t).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    print(RESULT_PREFIX + json.dumps({"flops_per_image": float(cost["flops"]) / args.batch_size}), flush=True)


def sample_table(results, args, flops_per_image=None):
    lines = ["| backend | import s | `zoo.load` s | first batch s | steady batch s | import to samples s "
             "| images x evaluations / s | achieved GFLOP/s | matmul GFLOP/s | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['backend']} | failed (exit {r['error']}) |" + " |" * 8)
            continue
        rate = r["images_per_s_per_evaluation"]
        achieved = "" if flops_per_image is None else f"{rate * flops_per_image / 1e9:.1f}"
        ratio = "" if flops_per_image is None else f"{rate * flops_per_image / 1e9 / r['matmul_gflops']:.2f}"
        lines.append(f"| {r['backend']} | {r['import_s']:.1f} | {r['load_s']:.1f} | {r['first_batch_s']:.1f} "
                     f"| {r['steady_batch_s']:.1f} | {r['to_first_batch_s']:.1f} | {rate:.0f} | {achieved} "
                     f"| {r['matmul_gflops']:.0f} | {ratio} |")
    return "\n".join(lines)


def run_backend(backend, args):
    """Run the worker in a subprocess (`backend` None: the inherited KERAS_BACKEND)."""
    env = dict(os.environ, **({"KERAS_BACKEND": "torch" if backend == PEER else backend} if backend else {}))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    mode = (["--flops"] if getattr(args, "flops", False) else []) + (
        ["--peer"] if backend == PEER else ["--sample"] if args.sample else ["--mfu"] if args.mfu else [])
    command = [sys.executable, os.path.abspath(__file__), "--worker", *mode,
               "--train-steps", str(args.train_steps), "--sample-steps", str(args.sample_steps),
               "--batch-size", str(args.batch_size), "--solver", args.solver, "--config", args.config]
    print(f"[{backend or 'current backend'}] running ...", file=sys.stderr, flush=True)
    process = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    for line in process.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            print(f"[{result.get('backend', backend)}] {json.dumps(result)}", file=sys.stderr, flush=True)
            return result
    print(f"[{backend}] failed (exit {process.returncode}):\n{process.stderr[-3000:]}", file=sys.stderr)
    return {"backend": backend or os.environ.get("KERAS_BACKEND", "?"), "error": process.returncode}


def markdown_table(results, args, peer=None):
    """One row per backend; with `peer` (its result) each rate also as a ratio of the peer's."""
    sampler = f"{args.solver} {args.sample_steps} steps"
    header = (f"| backend | train img/s (batch {args.batch_size}) | sample img/s ({sampler}) "
              "| warm-up s (train / sample) | peak RSS MiB |")
    lines = [header, "|---|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['backend']} | failed (exit {r['error']}) | | | |")
            continue
        rates = []
        for key in ("train_images_per_s", "sample_images_per_s"):
            ratio = "" if peer is None or "error" in peer else f" ({r[key] / peer[key]:.2f}x)"
            rates.append(f"{r[key]:.1f}{ratio}")
        lines.append(f"| {r['backend']} | {rates[0]} | {rates[1]} "
                     f"| {r['train_warmup_s']:.1f} / {r['sample_warmup_s']:.1f} | {r['peak_rss_mib']:.0f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", help="comma-separated, e.g. jax,tensorflow,torch "
                        "(default: the current KERAS_BACKEND)")
    parser.add_argument("--train-steps", type=int, default=10, help="timed fit steps (default 10)")
    parser.add_argument("--sample-steps", type=int, default=10, help="solver steps (default 10)")
    parser.add_argument("--batch-size", type=int, default=64, help="training and sampling batch (default 64)")
    parser.add_argument("--solver", default="euler", help="euler, heun or dpmpp-2m (default euler)")
    parser.add_argument("--sample", action="store_true",
                        help=f"time the main job's phases ({MAIN_JOB}; default here: its recommended sampler, "
                             "as the README's first command runs it)")
    parser.add_argument("--peer", action="store_true",
                        help="also run the diffusers peer of the same shape; rates as ratios of the peer's")
    parser.add_argument("--mfu", action="store_true",
                        help="GPU: the training step of --config in mixed_bfloat16, with model FLOP utilization")
    parser.add_argument("--config", default="rectified_flow_base", help="--mfu's config (default rectified_flow_base)")
    parser.add_argument("--peak-tflops", type=float, help="--mfu: the device's peak (default: known GPUs' dense bf16)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flops", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.peer:
            return peer_worker(args)
        if args.flops:
            return flops_worker(args)
        return sample_worker(args) if args.sample else mfu_worker(args) if args.mfu else worker(args)
    backends = args.backends.split(",") if args.backends else [None]
    if args.sample and "--sample-steps" not in sys.argv and "--solver" not in sys.argv:  # the README's command
        registry = json.loads((Path(__file__).resolve().parents[1] / "checkpoints.json").read_text())
        recommended = registry["checkpoints"][MAIN_JOB]["sampler"]
        args.solver, args.sample_steps = recommended["solver"], recommended["steps"]
    if args.sample or args.mfu:  # one row per backend, then the forward FLOPs counted on JAX
        results = [run_backend(backend, args) for backend in backends]
        flops = run_backend("jax", argparse.Namespace(**{**vars(args), "flops": True})).get("flops_per_image")
        if args.sample:
            print(f"\n{MAIN_JOB}: {args.batch_size} images, {args.solver} {args.sample_steps} steps, "
                  f"{os.cpu_count()} CPUs; forward pass {flops / 1e9:.3f} GFLOP per image\n" if flops else "")
            print(sample_table(results, args, flops))
        else:
            print(f"\n{args.config}: forward pass {flops / 1e9:.3f} GFLOP per image, training counted as 3x; "
                  f"{args.train_steps} timed steps\n" if flops else "")
            print(mfu_table(results, args, flops))
        return
    results = [run_backend(backend, args) for backend in backends]
    peer = run_backend(PEER, args) if args.peer else None
    print(f"\n{CONFIG}, {os.cpu_count()} CPUs, {args.train_steps} timed training steps"
          + (", ratios to the diffusers peer in parentheses" if peer else "") + "\n")
    print(markdown_table(results + ([peer] if peer else []), args, peer))


if __name__ == "__main__":
    main()
