#!/usr/bin/env bash
# Runs the libFuzzer targets built by `make fuzz`.
#
#   tests/fuzz/run.sh [--build DIR] [--seconds S] [--jobs J] [TARGET ...]
#
# For each target (default: all), in order:
#  1. every committed regression input (tests/fuzz/regressions/<target>/, see
#     regression_dirs) runs once; a crash there fails the target at once;
#  2. the seeds are gathered into DIR/corpus/<target>/ (kept between runs, so a later run
#     starts from the coverage an earlier one reached): files of tests/data and configs/
#     matching the target's patterns below, and what fuzz_make_seeds writes;
#  3. the target fuzzes for S seconds (default 30: `make fuzz-smoke`; an hour is
#     --seconds 3600), J targets at a time (default 1).
# A finding is saved as DIR/findings/<target>/crash-* (or leak-*, timeout-*, oom-*) and
# the target counts as failed. (Inputs slower than -timeout are findings; libFuzzer's
# "slow units" below it are not: on a loaded machine they are the load.) Prints one line per target (execs, coverage, findings)
# and a summary line; exits non-zero if any target failed.
set -euo pipefail
cd "$(dirname "$0")/../.."

BUILD=build-fuzz SECONDS_EACH=30 JOBS=1 TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
ALL=(model_file model_config torch_pth hf_bin y4m frame label_png npy classes_json
     train_config train_checkpoint video)
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")

# Seeds from the repository, by target: find(1) name patterns under tests/data and configs.
seed_patterns() {
  case "$1" in
    model_file|train_checkpoint) echo "*.safetensors" ;;
    model_config) echo "" ;;  # fuzz_make_seeds only
    torch_pth) echo "*.pth" ;;
    hf_bin) echo "*.bin" ;;
    y4m) echo "*.y4m" ;;
    frame) echo "*.png *.jpg *.jpeg" ;;
    label_png) echo "label_*.png *.png" ;;
    npy) echo "np_*.npy src_*.npy" ;;
    classes_json|train_config) echo "*.json" ;;
    video) echo "" ;;  # fuzz_make_seeds only (tiny videos written by the library)
  esac
}

# Inputs that once crashed or hung something, run once before fuzzing: a target's own
# regressions/ folder, and for frames the hostile JPEGs the issue-18 fuzzing of stb found
# (also checked by tests/io/test_image_decode.cpp).
regression_dirs() {
  echo "tests/fuzz/regressions/$1"
  [ "$1" = frame ] && echo "tests/data/io/hostile"
  return 0
}

# JSON inputs get a dictionary of JSON tokens and the keys the parsers know.
dictionary() {
  case "$1" in
    model_config|classes_json|train_config) echo "-dict=tests/fuzz/json.dict" ;;
  esac
}

SEED_MAX_BYTES=700000  # larger files slow every mutation more than they add coverage

prepare() {
  local target=$1 corpus="$BUILD/corpus/$1"
  mkdir -p "$corpus" "$BUILD/findings/$target"
  for pattern in $(seed_patterns "$target"); do
    find tests/data configs -type f -name "$pattern" -size -${SEED_MAX_BYTES}c \
      -exec cp -n {} "$corpus/" \; 2>/dev/null || true
  done
  if [ -d "$BUILD/seeds/$target" ]; then cp -n "$BUILD/seeds/$target"/* "$corpus/" 2>/dev/null || true; fi
}

fuzz_one() {
  local target=$1 bin="$BUILD/fuzz_$1" log="$BUILD/logs/$1.log"
  mkdir -p "$BUILD/logs"
  local regressions=()
  for dir in $(regression_dirs "$target"); do
    [ -d "$dir" ] && regressions+=("$dir"/*)
  done
  if [ ${#regressions[@]} -gt 0 ]; then
    if ! "$bin" -runs=1 -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=2048 "${regressions[@]}" \
        > "$log.regressions" 2>&1; then
      echo "fuzz $target: FAILED on a committed regression input (see $log.regressions)"
      return 1
    fi
  fi
  prepare "$target"
  local status=0
  # -rss_limit_mb/-malloc_limit_mb: a file may not make a parser hold more than 2 GiB;
  # -timeout: nor take more than 20 s (the largest seeds take well under 1 s).
  "$bin" "$BUILD/corpus/$target" -max_total_time="$SECONDS_EACH" -timeout=20 \
    -rss_limit_mb=2560 -malloc_limit_mb=2048 -max_len=1048576 -print_final_stats=1 \
    -report_slow_units=20 \
    -artifact_prefix="$BUILD/findings/$target/" $(dictionary "$target") > "$log" 2>&1 || status=$?
  local execs cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  local found
  found=$(ls "$BUILD/findings/$target" | grep -vc '^slow-unit' || true)
  echo "fuzz $target: ${SECONDS_EACH}s, ${execs:-0} execs, coverage ${cov:-0} edges, corpus $(ls "$BUILD/corpus/$target" | wc -l) inputs, findings $found"
  [ "$status" -eq 0 ] && [ "$found" -eq 0 ]
}

mkdir -p "$BUILD/seeds"
"$BUILD/fuzz_make_seeds" "$BUILD/seeds" || { echo "fuzz: fuzz_make_seeds failed"; exit 1; }

passed=0 failed=0 failed_names=()
run_batch() {
  local pids=() names=()
  for target in "$@"; do
    ( fuzz_one "$target" ) & pids+=($!); names+=("$target")
  done
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names+=("${names[$i]}"); fi
  done
}
batch=()
for target in "${TARGETS[@]}"; do
  [ -x "$BUILD/fuzz_$target" ] || { echo "fuzz: $BUILD/fuzz_$target not built (make fuzz)"; exit 1; }
  batch+=("$target")
  if [ ${#batch[@]} -ge "$JOBS" ]; then run_batch "${batch[@]}"; batch=(); fi
done
[ ${#batch[@]} -gt 0 ] && run_batch "${batch[@]}"
echo "fuzz: ${passed} passed, ${failed} failed, 0 skipped${failed_names:+ (failed: ${failed_names[*]})}"
[ "$failed" -eq 0 ]
