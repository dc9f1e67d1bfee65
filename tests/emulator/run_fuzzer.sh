#!/usr/bin/env bash
# Runs a libFuzzer binary for a fixed time from the checked-in seed corpus; fails on any
# crash, sanitizer report or failed check. New inputs go to a scratch corpus in the build
# tree, never into the source tree.
#   run_fuzzer.sh FUZZER SEED_DIR WORK_DIR SECONDS
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
"$fuzzer" "$work/corpus" "$seeds" -max_total_time="$seconds" -max_len=64 -timeout=10 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1
