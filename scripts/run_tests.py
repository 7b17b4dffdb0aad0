"""Run the whole test suite once per backend, each in its own process
(`KERAS_BACKEND=jax|tensorflow|torch`), print pytest's output for each, and exit
non-zero if any backend fails.

    python scripts/run_tests.py [--backends jax,torch] [--jobs N] [extra pytest args]

The backends run `--jobs` at a time (default: one per CPU core, at most three). Most of
a backend's time is single-threaded (XLA and TensorFlow graph compilation, Python), so
on 2 cores JAX alongside TensorFlow-then-PyTorch takes about as long as JAX alone.
Thread counts are left to each framework: forcing one intra-op thread
(`OMP_NUM_THREADS=1`) makes PyTorch 2.13 abort in the backward pass of
tests/test_classifier.py::test_resnet on this CPU.
Output is buffered per backend and printed whole, in the order the backends finish.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("jax", "tensorflow", "torch")


def run_backend(backend, pytest_args):
    env = {**os.environ, "KERAS_BACKEND": backend, "ZOO_NO_DOWNLOAD": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as log:
        code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.seek(0)
        output = log.read()
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return backend, code, lines[-1] if lines else "", time.monotonic() - started, output


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, len(BACKENDS)),
                        help="backends run at the same time")
    args, pytest_args = parser.parse_known_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    jobs = max(1, min(args.jobs, len(backends)))
    print(f"running {', '.join(backends)}: {jobs} at a time", flush=True)
    started = time.monotonic()
    results = []
    with ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(run_backend, backend, pytest_args) for backend in backends]
        for future in as_completed(futures):
            backend, code, summary, seconds, output = future.result()
            print(f"\n===== KERAS_BACKEND={backend} ({seconds:.0f}s) =====\n{output}", end="", flush=True)
            results.append((backend, code, summary, seconds))
    print(f"\n===== summary ({time.monotonic() - started:.0f}s wall) =====")
    for backend, code, summary, seconds in sorted(results, key=lambda r: backends.index(r[0])):
        print(f"{backend:<11} {'ok  ' if code == 0 else 'FAIL'} {seconds:6.0f}s  {summary}")
    return 0 if all(code == 0 for _, code, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
