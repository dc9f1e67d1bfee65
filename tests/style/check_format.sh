#!/usr/bin/env bash
# Fails when any C++ source differs from what clang-format (.clang-format) makes of it.
set -euo pipefail
cd "$(dirname "$0")/../.."
format=$(command -v clang-format-14 || command -v clang-format)
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' 2>/dev/null || find boot kernel mm drivers svm vmx tests -name '*.[ch]pp')
bad=0
for f in "${files[@]}"; do
  if ! "$format" --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: $format -i $f)"
    bad=1
  fi
done
[[ $bad -eq 0 ]] && echo "clang-format: ${#files[@]} files formatted"
exit $bad
