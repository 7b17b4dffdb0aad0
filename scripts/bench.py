"""Benchmark `rectified_flow_small` (the CPU CIFAR-10 config) per backend: training
images/s with `fit`, sampling images/s with a fixed-step solver, and peak memory.

    python scripts/bench.py                                  # the current backend
    python scripts/bench.py --backends jax,tensorflow,torch --train-steps 3

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
RESULT_PREFIX = "BENCH_RESULT "


def worker(args):
    """Runs in the backend's subprocess; prints one RESULT_PREFIX JSON line."""
    import keras
    import numpy as np

    import zoo

    batch = args.batch_size
    model = zoo.create(CONFIG, seed=0)  # with its EMA, as the recipe trains it
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


def run_backend(backend, args):
    """Run the worker in a subprocess (`backend` None: the inherited KERAS_BACKEND)."""
    env = dict(os.environ, **({"KERAS_BACKEND": backend} if backend else {}))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [sys.executable, os.path.abspath(__file__), "--worker",
               "--train-steps", str(args.train_steps), "--sample-steps", str(args.sample_steps),
               "--batch-size", str(args.batch_size), "--solver", args.solver]
    print(f"[{backend or 'current backend'}] running ...", file=sys.stderr, flush=True)
    process = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    for line in process.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            print(f"[{result['backend']}] {json.dumps(result)}", file=sys.stderr, flush=True)
            return result
    print(f"[{backend}] failed (exit {process.returncode}):\n{process.stderr[-3000:]}", file=sys.stderr)
    return {"backend": backend or os.environ.get("KERAS_BACKEND", "?"), "error": process.returncode}


def markdown_table(results, args):
    sampler = f"{args.solver} {args.sample_steps} steps"
    header = (f"| backend | train img/s (batch {args.batch_size}) | sample img/s ({sampler}) "
              "| warm-up s (train / sample) | peak RSS MiB |")
    lines = [header, "|---|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['backend']} | failed (exit {r['error']}) | | | |")
            continue
        lines.append(f"| {r['backend']} | {r['train_images_per_s']:.1f} | {r['sample_images_per_s']:.1f} "
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
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    backends = args.backends.split(",") if args.backends else [None]
    results = [run_backend(backend, args) for backend in backends]
    print(f"\n{CONFIG}, {os.cpu_count()} CPUs, {args.train_steps} timed training steps\n")
    print(markdown_table(results, args))


if __name__ == "__main__":
    main()
