#!/usr/bin/env bash
# Every measurement issue 11 still lacks, in order, each step's output in its own file under one results
# folder (paste the tables into docs/benchmarks.md). Run it on an IDLE machine: it refuses to start when the
# 1-minute load average is above 0.5 (each script also refuses to print timings taken under load).
#
#   bash benchmarks/run_pending.sh                      # the real plan, ~45 min on the 2-core CPU machine
#   bash benchmarks/run_pending.sh --smoke              # tiny model, 1 step, threads 1: checks the plan runs
#   bash benchmarks/run_pending.sh --out DIR --threads 2
#   bash benchmarks/run_pending.sh --only 04,05        # just the steps whose names start with 04 or 05
#
# Estimates (seconds, 2 threads, idle): one SmolLM2-135M fp32 DPO step at 2 pairs x 256 tokens = 17.8 s
# (README "CPU threads", measured idle); other shapes scaled by the analytic step FLOPs of
# benchmarks/plot_overhead_counts.py (4x1024: 11.1 / 1.17 TFLOP = 9.5x, so ~170 s; 4x256: 2x; V = 128,256
# at 2x256: ~1.3x); +10% for PLOT, +30% for gradient checkpointing (one more forward); ~20 s to start each
# process (imports, model load). Every vs_trl.py run is its own process (its peak RSS is that configuration's
# alone): processes x (start + steps x step).
set -uo pipefail
cd "$(dirname "$0")/.."

SMOKE=0
THREADS=2
OUT="outputs/benchmarks/$(date -u +%Y%m%dT%H%M%SZ)"
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1; THREADS=1; shift ;;
    --threads) THREADS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    *) echo "unknown option $1 (use --smoke, --threads N, --out DIR, --only 01,04)" >&2; exit 2 ;;
  esac
done
PY=.venv/bin/python
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"
mkdir -p "$OUT"

# name | estimated seconds | command (the real plan), most decisive first: ours vs TRL at 4 x 1024 with gradient
# checkpointing on in both (TRL's DPOConfig default), then both settings at 2 x 256, the 128k vocabulary, then
# the PLOT overhead claim, so that a run cut short still answers the main questions
PLAN=(
  "01-vs_trl-smollm2-4x1024|1300|$PY benchmarks/vs_trl.py speed --model smollm2-135m-instruct --shapes 4x1024 --configs trl,fused --checkpointing on --rounds 2 --steps 2 --warmup 1 --threads $THREADS"
  "02-vs_trl-smollm2-2x256|650|$PY benchmarks/vs_trl.py speed --model smollm2-135m-instruct --shapes 2x256 --configs trl,fused --checkpointing off,on --rounds 2 --steps 2 --warmup 1 --threads $THREADS"
  "03-vs_trl-random128k-2x256|300|$PY benchmarks/vs_trl.py speed --model random-128k --shapes 2x256 --configs trl,fused --checkpointing on --rounds 1 --steps 2 --warmup 1 --threads $THREADS"
  "04-plot_overhead-4x256|720|$PY benchmarks/plot_overhead.py --pairs 4 --seq-len 256 --steps 4 --warmup-rounds 1 --threads $THREADS --only dpo+plot(dirac),dpo(fused),dpo+plot(fused)"
  "05-plot_overhead-2x256|450|$PY benchmarks/plot_overhead.py --pairs 2 --seq-len 256 --steps 5 --warmup-rounds 1 --threads $THREADS --only dpo+plot(dirac),dpo(fused),dpo+plot(fused)"
  "06-length_grouping-smollm2|320|$PY benchmarks/length_grouping.py --model smollm2-135m-instruct --pairs 12 --batch-size 4 --max-length 256 --rounds 2 --threads $THREADS"
)
if [ "$SMOKE" = 1 ]; then
  PLAN=(
    "01-vs_trl-tiny-1x32|90|$PY benchmarks/vs_trl.py speed --model tiny --shapes 1x32 --configs trl,dpo,dpo_plot,fused --checkpointing off,on --rounds 1 --steps 1 --warmup 0 --threads 1 --max-load 1000"
    "02-vs_trl-tiny-1x64|40|$PY benchmarks/vs_trl.py speed --model tiny --shapes 1x64 --configs trl,fused --rounds 1 --steps 1 --warmup 0 --threads 1 --max-load 1000"
    "03-vs_trl-random128k-1layer-1x16|90|$PY benchmarks/vs_trl.py speed --model random-128k --random-layers 1 --shapes 1x16 --configs trl,fused --rounds 1 --steps 1 --warmup 0 --threads 1 --max-load 1000"
    "04-plot_overhead-smoke|30|$PY benchmarks/plot_overhead.py --pairs 1 --seq-len 16 --layers 1 --vocab 2048 --steps 1 --warmup-rounds 0 --threads 1 --only dpo+plot(dirac),dpo(fused),dpo+plot(fused),dpo+sinkhorn(fused)"
    "05-plot_overhead-smoke-2pairs|30|$PY benchmarks/plot_overhead.py --pairs 2 --seq-len 16 --layers 1 --vocab 2048 --steps 1 --warmup-rounds 0 --threads 1 --only dpo+plot(dirac),dpo+plot(fused)"
    "06-length_grouping-tiny|40|$PY benchmarks/length_grouping.py --model tiny --pairs 8 --batch-size 4 --max-length 128 --rounds 1 --threads 1"
  )
fi

if [ -n "$ONLY" ]; then
  KEPT=()
  for step in "${PLAN[@]}"; do
    for prefix in ${ONLY//,/ }; do
      case "$step" in "$prefix"*) KEPT+=("$step") ;; esac
    done
  done
  [ "${#KEPT[@]}" -gt 0 ] || { echo "--only $ONLY: no step name starts with that" >&2; exit 2; }
  PLAN=("${KEPT[@]}")
fi
total=0
for step in "${PLAN[@]}"; do total=$(( total + $(echo "$step" | cut -d'|' -f2) )); done
load=$(cut -d' ' -f1 /proc/loadavg)
{
  echo "run_pending.sh $(date -u +%Y-%m-%dT%H:%M:%SZ), smoke=$SMOKE, threads=$THREADS, git $(git rev-parse --short HEAD)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg), $(getconf _NPROCESSORS_ONLN) CPUs"
  $PY -c "import platform, torch, transformers, lightning, trl; print(f'python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, lightning {lightning.__version__}, trl {trl.__version__}')"
  echo "estimated total: $(( total / 60 )) min $(( total % 60 )) s"
  for step in "${PLAN[@]}"; do echo "  $(echo "$step" | cut -d'|' -f1): ~$(echo "$step" | cut -d'|' -f2) s"; done
} | tee "$OUT/plan.txt"
if [ "$SMOKE" = 0 ] && awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
  echo "REFUSED: load average $load > 0.5: the timings would be refused; run this on an idle machine." | tee -a "$OUT/plan.txt"
  exit 1
fi

# Each script refuses timings when the 1-minute load average is above 0.5 at its start, and a step leaves
# ~2 behind it: without this wait every step after the first was refused (2026-12-01). It waits for 0.3, not
# 0.5: the script's own start (imports, model load) adds ~0.1 before it reads the load (a step settled at
# 0.40 was refused at 0.54). ~2 min per step.
settle() {
  [ "$SMOKE" = 1 ] && return 0
  local waited=0
  while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN { exit !(l > 0.3) }' && [ "$waited" -lt 420 ]; do
    sleep 5; waited=$(( waited + 5 ))
  done
  echo "   settled ${waited} s: load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/plan.txt"
}

failed=0
for step in "${PLAN[@]}"; do
  name=$(echo "$step" | cut -d'|' -f1)
  command=$(echo "$step" | cut -d'|' -f3-)
  settle
  start=$(date +%s)
  echo "== $name: $command" | tee -a "$OUT/plan.txt"
  # shellcheck disable=SC2086  # the command is a plain word list (no quoting inside)
  timeout 3600 $command > "$OUT/$name.txt" 2>&1
  rc=$?
  [ "$rc" = 0 ] || failed=$(( failed + 1 ))
  echo "   rc $rc, $(( $(date +%s) - start )) s, load average now $(cut -d' ' -f1 /proc/loadavg) -> $OUT/$name.txt" | tee -a "$OUT/plan.txt"
done
echo "done: $failed failed step(s); results in $OUT" | tee -a "$OUT/plan.txt"
exit $(( failed > 0 ))
