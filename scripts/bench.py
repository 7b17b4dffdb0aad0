"""Benchmark `rectified_flow_small` (the CPU CIFAR-10 config) per backend: training
images/s with `fit`, sampling images/s with a fixed-step solver, and peak memory.

    python scripts/bench.py                                  # the current backend
    python scripts/bench.py --backends jax,tensorflow,torch --train-steps 3
    python scripts/bench.py --sample --backends jax,tensorflow,torch  # the README's main job

`--sample` times the phases of the README's first command (`zoo sample
rectified-flow-cifar --num 64 --steps 20`) in a fresh process per backend: importing
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

CONFIG = "rectified_flow_small"
MAIN_JOB = "rectified-flow-cifar"  # the README's first command samples it
RESULT_PREFIX = "BENCH_RESULT "
PEER = "peer"  # `run_backend`'s name for the diffusers peer's subprocess


def worker(args):
    """Runs in the backend's subprocess; prints one RESULT_PREFIX JSON line."""
    import keras
    import numpy as np

    import zoo

    batch = args.batch_size
    model = zoo.create(CONFIG, seed=0)  # with its EMA, as the recipe trains it
    assert model.network.dropout == PEER_UNET["dropout"], "the peer must train with the same dropout"
    model.compile(optimizer=keras.optimizers.AdamW(2e-4))
    data = np.random.default_rng(0).uniform(-1, 1, (batch * args.train_steps, *model.data_shape))
    data = data.astype("float32")

    start = time.perf_counter()
    model.fit(data[:batch], batch_size=batch, epochs=1, verbose=0)  # traces and compiles
    train_warmup = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(data, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    train_seconds = time.perf_counter() - start

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
    from zoo.samplers.ode import FIXED_STEP_SOLVERS
    imported = time.perf_counter()
    model = zoo.load(MAIN_JOB)
    loaded = time.perf_counter()
    options = {"steps": args.sample_steps, "solver": args.solver, "batch_size": args.batch_size}
    model.sample(args.batch_size, seed=0, **options)
    first = time.perf_counter()
    model.sample(args.batch_size, seed=0, **options)
    steady = time.perf_counter() - first
    evaluations = args.sample_steps * FIXED_STEP_SOLVERS[args.solver][1]
    matmul = matmul_flops_per_s()
    result = {"matmul_gflops": matmul / 1e9, "backend": keras.backend.backend(), "import_s": imported - start,
              "load_s": loaded - imported,
              "first_batch_s": first - loaded, "steady_batch_s": steady, "to_first_batch_s": first - start,
              "images_per_s_per_evaluation": args.batch_size * evaluations / steady}
    print(RESULT_PREFIX + json.dumps(result), flush=True)


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
    """Runs on JAX: the main job's network forward FLOPs per image (XLA cost analysis)."""
    import jax
    import numpy as np

    import zoo

    model = zoo.load(MAIN_JOB)
    network = model.averaged("network")
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
    mode = (["--flops"] if getattr(args, "flops", False) else ["--peer"] if backend == PEER
            else ["--sample"] if args.sample else [])
    command = [sys.executable, os.path.abspath(__file__), "--worker", *mode,
               "--train-steps", str(args.train_steps), "--sample-steps", str(args.sample_steps),
               "--batch-size", str(args.batch_size), "--solver", args.solver]
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
    parser.add_argument("--solver", default="euler", help="euler or heun (default euler)")
    parser.add_argument("--sample", action="store_true",
                        help=f"time the main job's phases ({MAIN_JOB}; default here: --sample-steps 20, euler)")
    parser.add_argument("--peer", action="store_true",
                        help="also run the diffusers peer of the same shape; rates as ratios of the peer's")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flops", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.peer:
            return peer_worker(args)
        return flops_worker(args) if args.flops else sample_worker(args) if args.sample else worker(args)
    backends = args.backends.split(",") if args.backends else [None]
    if args.sample:
        if "--sample-steps" not in sys.argv:
            args.sample_steps = 20  # the README's command
        results = [run_backend(backend, args) for backend in backends]
        flops = run_backend("jax", argparse.Namespace(**{**vars(args), "flops": True})).get("flops_per_image")
        print(f"\n{MAIN_JOB}: {args.batch_size} images, {args.solver} {args.sample_steps} steps, "
              f"{os.cpu_count()} CPUs; forward pass {flops / 1e9:.3f} GFLOP per image\n" if flops else "")
        print(sample_table(results, args, flops))
        return
    results = [run_backend(backend, args) for backend in backends]
    peer = run_backend(PEER, args) if args.peer else None
    print(f"\n{CONFIG}, {os.cpu_count()} CPUs, {args.train_steps} timed training steps"
          + (", ratios to the diffusers peer in parentheses" if peer else "") + "\n")
    print(markdown_table(results + ([peer] if peer else []), args, peer))


if __name__ == "__main__":
    main()
