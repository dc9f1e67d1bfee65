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
if ! out=$(printf '%s\n' "${files[@]}" | xargs -P 2 -n 4 "$tidy" -p "$build" --quiet 2>&1); then
  echo "$out" | grep -v 'warnings\? generated'
  echo "clang-tidy: problems found (see above)"
  exit 1
fi
echo "clang-tidy: ${#files[@]} files clean"
