#!/usr/bin/env bash
# The wheels benchmarks/gpu_check.sh installs on a lent GPU machine (no package registry there), into .whl/
# (git-ignored; name it in the run tool's carry list). Run once here, from the repository root:
#     bash benchmarks/gpu_wheels.sh
# That machine has torch, lightning, transformers, accelerate, peft, torchmetrics, pandas, pyarrow, psutil,
# jinja2, xxhash and huggingface-hub; it lacks what these pins add: trl (vs_trl's other side), datasets and its
# dill / multiprocess (trl needs them, and plot_lightning.data imports datasets), torchdata (plot_lightning.data
# imports its StatefulDataLoader). Not carried, because nothing gpu_check runs imports them: mlflow, pot,
# jsonargparse (Lightning's CLI module imports it only when installed), lm-eval. pyarrow goes to .whl/optional/:
# datasets 5.2 needs pyarrow >= 24 and gpu_check.sh installs it only where the machine's is older (50 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
get() { "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" -d "$1" "${@:2}"; }
get .whl trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 torchdata==0.11.0
get .whl/optional pyarrow==25.0.1
du -sh .whl .whl/optional
