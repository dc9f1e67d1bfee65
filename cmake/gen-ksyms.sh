#!/usr/bin/env bash
# Builds the hypervisor's symbol table for panic backtraces, or checks it moved nothing.
#   gen-ksyms.sh NM CXXFILT STAGE1.elf OUT.S     text symbols of pass 1 -> assembly
#   gen-ksyms.sh --check NM STAGE1.elf FINAL.elf  every pass-1 symbol kept its address
# Layout of .ksyms (read by kernel/symbols.cpp): u64 count; count x {u64 address,
# u64 name}; then the NUL-terminated demangled names.
set -euo pipefail
if [[ $1 == --check ]]; then
  nm=$2 stage1=$3 final=$4
  a=$($nm -n --defined-only "$stage1" | grep -v ' __ksyms_\| __image_end_phys' || true)
  b=$($nm -n --defined-only "$final" | grep -v ' __ksyms_\| __image_end_phys\| ksym_' || true)
  if [[ "$a" != "$b" ]]; then
    echo "gen-ksyms: adding the symbol table moved symbols:" >&2
    diff <(echo "$a") <(echo "$b") | head -20 >&2
    exit 1
  fi
  exit 0
fi
nm=$1 cxxfilt=$2 stage1=$3 out=$4
mapfile -t lines < <($nm -n --defined-only "$stage1" | awk '$2 ~ /^[tTwW]$/ {print $1, $3}')
{
  echo '    .section .ksyms, "a"'
  echo '    .balign 8'
  echo "ksym_count: .quad ${#lines[@]}"
  i=0
  for l in "${lines[@]}"; do
    echo "    .quad 0x${l%% *}, ksym_name_$i"
    i=$((i + 1))
  done
  i=0
  while IFS= read -r name; do
    name=${name//\\/\\\\}
    name=${name//\"/\\\"}
    echo "ksym_name_$i: .asciz \"$name\""
    i=$((i + 1))
  done < <(for l in "${lines[@]}"; do echo "${l#* }"; done | $cxxfilt)
} >"$out"
