#!/usr/bin/env bash
# Fails when any C++ source differs from what clang-format (.clang-format) makes of it.
# Files go to clang-format in batches (one process per file cost a minute of CI).
set -euo pipefail
cd "$(dirname "$0")/../.."
format=$(command -v clang-format-14 || command -v clang-format)
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' 2>/dev/null || find boot kernel mm drivers svm vmx tests -name '*.[ch]pp')
# --dry-run -Werror names each file that differs: "FILE:LINE:COL: error: code should be
# clang-formatted".
out=$(printf '%s\n' "${files[@]}" | xargs -P 2 -n 64 "$format" --dry-run -Werror 2>&1 || true)
mapfile -t bad < <(echo "$out" | sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: .*/\1/p' | sort -u)
if ((${#bad[@]} > 0)); then
  for f in "${bad[@]}"; do echo "not formatted: $f (run: $format -i $f)"; done
  exit 1
fi
if echo "$out" | grep -q .; then
  echo "$out"
  echo "clang-format: failed (see above)"
  exit 1
fi
echo "clang-format: ${#files[@]} files formatted"
