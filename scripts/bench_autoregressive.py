"""Seconds per 64 samples of the autoregressive models, per backend: one compiled
`fori_loop` of D network passes (NADE: D O(H) steps), as `scripts/bench.py` measures the
other families (each backend in its own subprocess; the first call, which traces and
compiles, is reported apart from a second, timed call with another seed).

    python scripts/bench_autoregressive.py --backends jax,tensorflow,torch
    python scripts/bench_autoregressive.py --models nade_mnist,code_prior_cifar --repeat 0

The configs are the bundled checkpoints' architectures with their initial weights: the
time of a network pass does not depend on the weights. `--repeat 0` times only the
first call (compilation included), for models whose loop takes minutes on a CPU.
"""

import argparse
import json
import os
import subprocess
import sys
import time

MODELS = ("nade_mnist", "made_mnist", "pixelcnn_mnist", "code_prior_cifar")
RESULT_PREFIX = "BENCH_RESULT "


def worker(args):
    import keras

    import zoo

    for name in args.models.split(","):
        model = zoo.create(name, seed=0)
        start = time.perf_counter()
        model.sample(args.num, seed=0, batch_size=args.num)
        first = time.perf_counter() - start
        timed = None
        if args.repeat:
            start = time.perf_counter()
            for seed in range(1, args.repeat + 1):
                model.sample(args.num, seed=seed, batch_size=args.num)
            timed = (time.perf_counter() - start) / args.repeat
        print(RESULT_PREFIX + json.dumps({"backend": keras.backend.backend(), "model": name, "num": args.num,
                                          "positions": model.num_dims, "first_call_s": first,
                                          "seconds": timed}), flush=True)


def run_backend(backend, args):
    env = dict(os.environ, **({"KERAS_BACKEND": backend} if backend else {}))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--models", args.models,
               "--num", str(args.num), "--repeat", str(args.repeat)]
    print(f"[{backend or 'current backend'}] running ...", file=sys.stderr, flush=True)
    process = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    results = [json.loads(line[len(RESULT_PREFIX):]) for line in process.stdout.splitlines()
               if line.startswith(RESULT_PREFIX)]
    if process.returncode:
        print(f"[{backend}] failed (exit {process.returncode}):\n{process.stderr[-3000:]}", file=sys.stderr)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", help="comma-separated (default: the current KERAS_BACKEND)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--num", type=int, default=64, help="samples per call (one batch)")
    parser.add_argument("--repeat", type=int, default=1, help="timed calls after the first (0: none)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    results = [r for backend in (args.backends.split(",") if args.backends else [None])
               for r in run_backend(backend, args)]
    print(f"\n{os.cpu_count()} CPUs; seconds per {args.num} samples\n")
    print("| model | positions | backend | first call s (compiles) | s per call |")
    print("|---|---:|---|---:|---:|")
    for r in results:
        timed = f"{r['seconds']:.1f}" if r["seconds"] is not None else "-"
        print(f"| {r['model']} | {r['positions']} | {r['backend']} | {r['first_call_s']:.1f} | {timed} |")


if __name__ == "__main__":
    main()
