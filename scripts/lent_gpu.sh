#!/usr/bin/env bash
# Train and evaluate the CIFAR-10 checkpoints on a lent GPU machine (Python 3.12, JAX
# with CUDA, no Keras, no network, 64 MiB carried per call, ~10 minutes per command).
# Here, once: pip download the Keras wheels into .whl/ (README, "Training on a lent GPU")
# and `python scripts/cifar_shards.py pack .gpu`. There, one stage per call, carrying
# .whl and the next data part; runs/ stays on the machine between calls while it is warm:
#
#   scripts/lent_gpu.sh probe                  # carry .whl .gpu/train_a.xz: devices, img/s
#   scripts/lent_gpu.sh train CLS_MIN RF_MIN   # carry .gpu/train_b.xz: classifier, then 1-RF
#   scripts/lent_gpu.sh final RF_MIN           # carry .gpu/test.xz: more 1-RF, then zoo eval
#
# Any other recipe, in the same chained calls (carry .whl and the next part until all
# three have arrived; the test split is needed only by `eval`):
#
#   scripts/lent_gpu.sh recipe ddpm_cifar MINUTES      # trains (resuming runs/ddpm-cifar), exports
#   scripts/lent_gpu.sh eval ddpm-cifar "ddim:50,ddpm:1000@2000" BPD_IMAGES
#   scripts/lent_gpu.sh mfu                    # carry .whl: bf16 train step and MFU (JAX, PyTorch)
#
# Every stage copies the exported checkpoints and the logs to $OUT.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/*.whl 2>&1 | grep -v WARNING || true
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax ZOO_DATA_DIR=/tmp/zoo-data ZOO_NO_DOWNLOAD=1
# Parts accumulate outside the working tree: a call only carries the next one.
mkdir -p /tmp/zoo-data/parts && cp .gpu/*.xz /tmp/zoo-data/parts/ 2>/dev/null || true
python3 scripts/cifar_shards.py unpack /tmp/zoo-data/parts /tmp/zoo-data
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" runs
export_checkpoints() {
  for name in classifier-cifar rectified-flow-cifar; do
    if [ -d "runs/$name/checkpoint" ]; then rm -rf "${OUT:?}/$name"; cp -r "runs/$name/checkpoint" "$OUT/$name"; fi
  done
}
case "$1" in
  probe)
    nvidia-smi -L
    python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"
    timeout 100 python3 -m zoo train recipes/classifier_cifar.py --workdir /tmp/probe-classifier --epochs 1 || true
    timeout 150 python3 -m zoo train recipes/rectified_flow_cifar.py --workdir /tmp/probe-rf --epochs 1 || true
    ;;
  train)
    rm -rf runs/classifier-cifar
    python3 -m zoo train recipes/classifier_cifar.py --workdir runs/classifier-cifar --time-limit "$2" 2>&1 | tee -a "$OUT/classifier.log"
    export_checkpoints
    python3 -m zoo train recipes/rectified_flow_cifar.py --workdir runs/rectified-flow-cifar --time-limit "$3" 2>&1 | tee -a "$OUT/rf.log"
    export_checkpoints
    ;;
  final)
    python3 -m zoo train recipes/rectified_flow_cifar.py --workdir runs/rectified-flow-cifar --time-limit "$2" 2>&1 | tee -a "$OUT/rf.log"
    export_checkpoints
    python3 -m zoo eval runs/rectified-flow-cifar/checkpoint --num 10000 --samplers euler:1,euler:2,euler:10,euler:20,euler:50,rk45@2000 \
      --feature-network runs/classifier-cifar/checkpoint --bpd-images 256 --straightness-steps 20 --json "$OUT/eval.json" 2>&1 | tee "$OUT/eval.log"
    ;;
  recipe)
    name=${2//_/-}
    python3 -m zoo train "recipes/${2//-/_}.py" --workdir "runs/$name" --time-limit "$3" 2>&1 | tee -a "$OUT/$name.log"
    if [ -d "runs/$name/checkpoint" ]; then rm -rf "${OUT:?}/$name"; cp -r "runs/$name/checkpoint" "$OUT/$name"; fi
    ;;
  eval)
    python3 -m zoo eval "runs/$2/checkpoint" --samplers "$3" --bpd-images "$4" --json "$OUT/$2-eval.json" 2>&1 | tee "$OUT/$2-eval.log"
    ;;
  mfu)  # the machine has JAX and PyTorch with CUDA, no TensorFlow
    python3 scripts/bench.py --mfu --backends jax,torch --batch-size 128 --train-steps 50 2>&1 | tee "$OUT/mfu.log"
    ;;
  *) echo "unknown stage $1"; exit 2 ;;
esac
