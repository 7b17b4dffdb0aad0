"""Run the whole test suite once per backend, each in its own process
(`KERAS_BACKEND=jax|tensorflow|torch`), print pytest's summary for each, and exit
non-zero if any backend fails.

    python scripts/run_tests.py [--backends jax,torch] [extra pytest args]
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("jax", "tensorflow", "torch")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args, pytest_args = parser.parse_known_args(argv)
    results = []
    for backend in args.backends.split(","):
        print(f"\n===== KERAS_BACKEND={backend} =====", flush=True)
        env = {**os.environ, "KERAS_BACKEND": backend, "ZOO_NO_DOWNLOAD": "1",
               "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                    *pytest_args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        summary = ""
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.strip():
                summary = line.strip()
        code = process.wait()
        results.append((backend, code, summary, time.monotonic() - started))
    print("\n===== summary =====")
    for backend, code, summary, seconds in results:
        print(f"{backend:<11} {'ok  ' if code == 0 else 'FAIL'} {seconds:6.0f}s  {summary}")
    return 0 if all(code == 0 for _, code, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
