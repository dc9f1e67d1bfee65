#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) on every project source in the build's compile database.
set -euo pipefail
build=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tidy=$(command -v clang-tidy-14 || command -v clang-tidy)
mapfile -t files < <(python3 - "$build/compile_commands.json" "$root" <<'PY'
import json, sys, os
root = sys.argv[2]
seen = set()
for e in json.load(open(sys.argv[1])):
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    if f.startswith(root + "/") and f.endswith(".cpp") and "/tests/" not in f and f not in seen:
        seen.add(f)
        print(f)
PY
)
# The static analyzer in its shallow mode (clang's -analyzer-config mode=shallow: less
# inlining across calls, fewer paths): the deep mode took 15 to 30 s on each device
# model's state machine (kernel/vm/devices/pc/cmos_rtc.cpp), most of this test's ten
# minutes of CI; shallow still follows every path within a function and a little beyond.
analyzer=(--extra-arg=-Xclang --extra-arg=-analyzer-config --extra-arg=-Xclang --extra-arg=mode=shallow)
if ! out=$(printf '%s\n' "${files[@]}" | xargs -P 2 -n 4 "$tidy" -p "$build" --quiet "${analyzer[@]}" 2>&1); then
  echo "$out" | grep -v 'warnings\? generated'
  echo "clang-tidy: problems found (see above)"
  exit 1
fi
echo "clang-tidy: ${#files[@]} files clean"
