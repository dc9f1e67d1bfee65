#!/usr/bin/env bash
# Builds newlib's libc (no libm) from Debian's newlib-source for the freestanding
# x86_64 hypervisor target: kernel code model, no red zone, no SSE/x87, so that
# libc code may run on the VM-exit path without touching guest FPU state.
# Usage: build-newlib.sh <tarball> <prefix> <clang> <llvm-bin-suffix>
# Result: <prefix>/lib/libc.a and <prefix>/include; a stamp records the flags so a
# cached copy is reused only when it was built the same way.
set -euo pipefail
tarball=$1 prefix=$2 cc=${3:-clang-14} sfx=${4:--14}
cflags="-g -O2 -ffreestanding -mno-red-zone -mcmodel=kernel -mgeneral-regs-only -fno-pic -fno-stack-protector"
stamp="$prefix/.stamp"
want="newlib-3.3.0 $(sha256sum "$tarball" | cut -c1-16) $(basename "$cc") $cflags v2"
cached() { [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$prefix/lib/libc.a" ]]; }
if cached; then echo "newlib: using cached build in $prefix"; exit 0; fi
# One builder at a time per cache (two build trees may configure at once); the result
# is moved into place whole, so a reader never sees a half-written prefix.
mkdir -p "$(dirname "$prefix")"
exec 9>"$prefix.lock"
flock 9
if cached; then echo "newlib: using cached build in $prefix"; exit 0; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-newlib.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "newlib: building into $prefix (about a minute)"
tar -C "$work" -xf "$tarball"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)   # unpacks to newlib-salsa/
mkdir "$work/build" && cd "$work/build"
"$src/configure" --target=x86_64-elf --prefix="$work/install" \
  --disable-multilib --disable-libgloss --disable-newlib-supplied-syscalls \
  --enable-newlib-reent-small --enable-newlib-io-c99-formats --enable-newlib-io-long-long \
  --disable-newlib-io-float \
  CC_FOR_TARGET="$cc --target=x86_64-elf -nostdlibinc" \
  AR_FOR_TARGET=llvm-ar$sfx RANLIB_FOR_TARGET=llvm-ranlib$sfx NM_FOR_TARGET=llvm-nm$sfx \
  READELF_FOR_TARGET=llvm-readelf$sfx OBJDUMP_FOR_TARGET=llvm-objdump$sfx \
  STRIP_FOR_TARGET=llvm-strip$sfx LD_FOR_TARGET=ld.lld$sfx \
  CFLAGS_FOR_TARGET="$cflags" >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log"; exit 1; }
make -j"$(nproc)" configure-target-newlib >"$work/make.log" 2>&1 || { tail -30 "$work/make.log"; exit 1; }
# targ-include/ holds the configured newlib.h (C99 formats, long long, reent-small):
# without it libc compiles against the unconfigured default and %zu prints "zu".
make -C "$work/build/x86_64-elf/newlib" stmp-targ-include >>"$work/make.log" 2>&1 || { tail -30 "$work/make.log"; exit 1; }
libc="$work/build/x86_64-elf/newlib/libc"
# stdlib/ldtoa.c needs long double (x87), which -mgeneral-regs-only forbids; with float
# I/O disabled nothing calls it, so an empty object stands in for it.
: >"$work/empty.c"
mkdir -p "$libc/stdlib"
$cc --target=x86_64-elf $cflags -c "$work/empty.c" -o "$libc/stdlib/lib_a-ldtoa.o"
make -j"$(nproc)" -C "$libc" AR_FLAGS=rc >>"$work/make.log" 2>&1 || { tail -30 "$work/make.log"; exit 1; }
out="$work/result"
mkdir -p "$out/lib"
cp "$libc/libc.a" "$out/lib/libc.a"
cp -r "$src/newlib/libc/include" "$out/include"
cp -r "$work/build/x86_64-elf/newlib/targ-include/." "$out/include/"
echo "$want" >"$out/.stamp"
rm -rf "$prefix.old" && { [[ ! -e "$prefix" ]] || mv "$prefix" "$prefix.old"; }
mv "$out" "$prefix" && rm -rf "$prefix.old"
echo "newlib: done"
