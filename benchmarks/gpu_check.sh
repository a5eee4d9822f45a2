#!/usr/bin/env bash
# Runs benchmarks/gpu_check.py on a lent GPU machine, from the repository root, with the wheels of
# benchmarks/gpu_wheels.sh carried in .whl/; tables and the full log go to the folder given:
#     bash benchmarks/gpu_check.sh "$OUT"
# The check itself is cut at GPU_CHECK_LIMIT_S (default 470 s); it writes its tables after every section
# (and vs_trl after every round), so a run cut short keeps what it finished.
set -uo pipefail
out=${1:?usage: bash benchmarks/gpu_check.sh OUT_FOLDER}
mkdir -p "$out"
site=/tmp/plot-gpu-site
wheels=(.whl/*.whl)
if ! python3 -c 'import sys, pyarrow; sys.exit(int(pyarrow.__version__.split(".")[0]) < 24)' 2>/dev/null; then
  wheels+=(.whl/optional/pyarrow-*.whl)  # datasets 5.2 needs pyarrow >= 24
fi
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
  "${wheels[@]}" || exit 3
export PYTHONPATH="$PWD:$site" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python3 -m pip list 2>/dev/null | grep -iE '^(torch|lightning|transformers|trl|datasets|pyarrow|peft|accelerate) ' \
  | tee "$out/versions.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$out/versions.txt"
timeout "${GPU_CHECK_LIMIT_S:-470}" python3 benchmarks/gpu_check.py --device cuda --out "$out" "${@:2}" 2>&1 \
  | tee "$out/gpu_check.log"
