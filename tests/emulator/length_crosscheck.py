#!/usr/bin/env python3
"""Cross-checks the instruction lengths of Vireo's x86 decoder against LLVM's disassembler.

The generator below builds encodings of every opcode of the one-byte, 0F, 0F 38 and 0F 3A
maps (plus 3DNow!, x87 register forms, VEX, EVEX and XOP), each with a spread of
ModRM/SIB forms and prefixes, in 16-, 32- and 64-bit mode. Every encoding is placed at
the start of its own slot in a flat binary, followed by one-byte NOPs (0x90) that also
serve as its displacement and immediate bytes, so that whatever the disassembler makes
of a slot it is back in step at the next one. `llvm-objdump` disassembles the binary;
`decode_lengths` (the decoder) reads the same bytes. The test fails on any disagreement
that no entry of EXCLUSIONS explains, and on any exclusion that explains nothing.

usage: length_crosscheck.py --decoder BIN [--objdump llvm-objdump-14] [--objcopy llvm-objcopy-14]
                            [--show N] [--verbose]
"""
import argparse
import collections
import os
import random
import re
import subprocess
import sys
import tempfile

TRIPLES = {
    "prot16": "i386-unknown-unknown-code16",
    "prot32": "i386",
    "long64": "x86_64",
}
FILLER = 0x90
LEGACY_PREFIXES = {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3}
# llvm-objdump prints a prefix it does not fold into the next instruction (LOCK, a REX
# followed by a legacy prefix, ...) as a pseudo-instruction of its own; those are joined
# with what follows.
PREFIX_MNEMONICS = {"lock", "rep", "repe", "repne", "repz", "repnz", "cs", "ds", "es", "ss", "fs", "gs",
                    "data16", "data32", "addr16", "addr32", "rex", "rex64", "rex.w", "rex.b", "rex.x", "rex.r",
                    "xacquire", "xrelease", "notrack", "bnd"}


class Case:
    __slots__ = ("mode", "prefixes", "body", "kind", "map", "opcode", "modrm", "extra")

    def __init__(self, mode, prefixes, body, kind, map_, opcode, modrm=None, extra=None):
        self.mode = mode
        self.prefixes = tuple(prefixes)  # legacy and REX prefix bytes, in order
        self.body = tuple(body)  # escape/VEX bytes, opcode, ModRM, SIB ...
        self.kind = kind  # "legacy", "vex2", "vex3", "evex", "xop", "3dnow", "limit"
        self.map = map_  # "1", "0f", "0f38", "0f3a" (VEX/EVEX/XOP: their map number)
        self.opcode = opcode
        self.modrm = modrm
        self.extra = extra or {}

    def explicit(self):
        return bytes(self.prefixes + self.body)

    def slot(self):
        # Any instruction starting inside the explicit bytes ends within 15 bytes of
        # its opcode, which itself lies inside them: 15 bytes of NOPs re-synchronize.
        return self.explicit() + bytes([FILLER] * 15)

    def has(self, *prefix_bytes):
        return any(p in self.prefixes for p in prefix_bytes)

    def describe(self):
        return "%s %s" % (self.mode, self.explicit().hex(" "))


# ModRM/SIB forms, by ModRM.reg (the filler supplies displacements).
def modrm_forms(reg):
    r = reg << 3
    return [
        (0x04 | r, 0x25),  # mod=00 SIB without base: disp32 (16-bit: [si])
        (0x05 | r,),  # mod=00 rm=101: disp32, RIP-relative in 64-bit mode (16-bit: [di])
        (0x06 | r,),  # mod=00 rm=110: disp16 in 16-bit addressing ([esi] otherwise)
        (0x44 | r, 0x58),  # mod=01 SIB + disp8
        (0x80 | r,),  # mod=10: disp32 / disp16
        (0xC0 | r | (reg ^ 3),),  # register
    ]


ALL_TAILS = [t for reg in range(8) for t in modrm_forms(reg)]


def prefix_sets(mode):
    sets = [(0x66,), (0x67,), (0xF3,), (0xF2,), (0xF0,), (0x2E,), (0x64,), (0x66, 0x67), (0xF0, 0x66)]
    if mode == "long64":
        sets += [(0x48,), (0x41,), (0x44,), (0x42,), (0x4F,), (0x40,), (0x66, 0x48), (0x48, 0x66)]
    return sets


def generate():
    rng = random.Random(20241121)  # fixed: the same cases on every run
    cases = []
    for mode in TRIPLES:
        long_mode = mode == "long64"
        pfx_sets = prefix_sets(mode)

        def legacy(map_, escape, op, skip):
            if skip:
                return
            for tail in ALL_TAILS:
                cases.append(Case(mode, (), escape + (op,) + tail, "legacy", map_, op, tail[0]))
            for pfx in pfx_sets:
                for tail in rng.sample(ALL_TAILS, 3):
                    cases.append(Case(mode, pfx, escape + (op,) + tail, "legacy", map_, op, tail[0]))

        for op in range(256):
            rex = long_mode and 0x40 <= op <= 0x4F
            legacy("1", (), op, op in LEGACY_PREFIXES or op == 0x0F or rex)
        for op in range(256):
            legacy("0f", (0x0F,), op, op in (0x38, 0x3A))
        # Three-byte maps, with each mandatory prefix.
        for map_, escape in (("0f38", (0x0F, 0x38)), ("0f3a", (0x0F, 0x3A))):
            for op in range(256):
                for pfx in ((), (0x66,), (0xF2,), (0xF3,), (0x66, 0xF2)):
                    for tail in ((0x05,), (0xC1,)):
                        cases.append(Case(mode, pfx, escape + (op,) + tail, "legacy", map_, op, tail[0]))
        # Every register form of the x87 escapes and of the groups with register-form
        # instructions (0F 01, 0F AE, 0F C7).
        for escape, op in [((), x) for x in range(0xD8, 0xE0)] + [((0x0F,), x) for x in (0x01, 0xAE, 0xC7)]:
            for modrm in range(0xC0, 0x100):
                cases.append(Case(mode, (), escape + (op, modrm), "legacy", "0f" if escape else "1", op, modrm))
        # 3DNow!: 0F 0F ModRM [SIB] [disp] suffix; the suffix is the filler unless given.
        for suffix in range(256):
            for tail in ((0xC1,), (0x05,)):
                body = (0x0F, 0x0F) + tail + ((0, 0, 0, 0) if tail == (0x05,) else ()) + (suffix,)
                cases.append(Case(mode, (), body, "3dnow", "0f", 0x0F, tail[0], {"suffix": suffix}))
        # Prefix runs up to and past the 15-byte limit.
        for count in range(0, 16):
            for pfx_byte, body in ((0x26, (0x90,)), (0x3E, (0x8B, 0x84, 0x24)), (0x66, (0x05,))):
                cases.append(Case(mode, (pfx_byte,) * count, body, "limit", "1", body[0], None))
        if mode == "prot16":
            continue  # VEX, EVEX and XOP: 32- and 64-bit mode
        for op in range(256):
            for map_ in (1, 2, 3):
                for pp in (0, 1):
                    for tail in ((0x05,), (0xC1,)):
                        body = (0xC4, 0xE0 | map_, 0x78 | pp, op) + tail
                        cases.append(Case(mode, (), body, "vex3", map_, op, tail[0], {"pp": pp}))
            for pp in range(4):
                body = (0xC5, 0xF8 | pp, op, 0x44, 0x58)
                cases.append(Case(mode, (), body, "vex2", 1, op, 0x44, {"pp": pp}))
            for map_ in (1, 2, 3, 5, 6):
                for w in (0, 0x80):
                    body = (0x62, 0xF0 | map_, 0x7D | w, 0x48, op, 0x05)
                    cases.append(Case(mode, (), body, "evex", map_, op, 0x05, {"pp": 1}))
            for map_ in (8, 9, 10):
                body = (0x8F, 0xE0 | map_, 0x78, op, 0xC1)
                cases.append(Case(mode, (), body, "xop", map_, op, 0xC1))
    return cases


def run_decoder(decoder, cases):
    text = "".join("%s %s\n" % (c.mode, c.slot().hex()) for c in cases)
    out = subprocess.run([decoder], input=text, capture_output=True, text=True, check=True).stdout.split("\n")
    results = []
    for line in out[: len(cases)]:
        result, length, kind = line.split()
        results.append((result, int(length), kind))
    if len(results) != len(cases):
        sys.exit("decode_lengths printed %d lines for %d cases" % (len(results), len(cases)))
    return results


LINE = re.compile(r"^\s*([0-9a-f]+):\s+(.*)$")


def run_llvm(objdump, objcopy, mode, cases, workdir):
    """Returns, per case, the length LLVM gives the instruction at its slot, or None
    when LLVM has no decoding for it."""
    blob = bytearray()
    starts = []
    for c in cases:
        starts.append(len(blob))
        blob += c.slot()
    raw = os.path.join(workdir, mode + ".bin")
    obj = os.path.join(workdir, mode + ".o")
    with open(raw, "wb") as f:
        f.write(blob)
    subprocess.run([objcopy, "-I", "binary", "-O", "elf64-x86-64", "--rename-section",
                    ".data=.text,code,alloc,load", raw, obj], check=True)
    listing = subprocess.run([objdump, "-d", "-z", "--no-show-raw-insn", "--triple=" + TRIPLES[mode], obj],
                             capture_output=True, text=True, check=True).stdout
    insns = []  # (address, text)
    for line in listing.split("\n"):
        m = LINE.match(line)
        if m:
            insns.append((int(m.group(1), 16), m.group(2).strip()))
    insns.append((len(blob), "<end>"))
    at = {addr: i for i, (addr, _) in enumerate(insns)}
    lengths = []
    for c, start in zip(cases, starts):
        i = at.get(start)
        if i is None:
            sys.exit("llvm-objdump lost step before the slot of %s" % c.describe())
        while insns[i][1].split() and insns[i][1].split()[0] in PREFIX_MNEMONICS and len(insns[i][1].split()) == 1:
            i += 1
        lengths.append(None if insns[i][1].startswith("<unknown>") else insns[i + 1][0] - start)
    return lengths


# --- Where LLVM 14 and the manuals disagree -----------------------------------------
# Each entry: (name, reason, predicate). A predicate sees the case, the kind of
# disagreement ("length": both decode, lengths differ; "decoder-rejects": the decoder
# reports #UD/#GP, LLVM decodes; "llvm-rejects": the decoder decodes, LLVM does not),
# and both results.
EXCLUSIONS = []


def exclusion(name, reason):
    def register(predicate):
        EXCLUSIONS.append((name, reason, predicate))
        return predicate

    return register


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--decoder", required=True)
    ap.add_argument("--objdump", default="llvm-objdump-14")
    ap.add_argument("--objcopy", default="llvm-objcopy-14")
    ap.add_argument("--show", type=int, default=40, help="unexplained disagreements to print")
    ap.add_argument("--verbose", action="store_true", help="print what each exclusion covers")
    ap.add_argument("--dump", help="write every unexplained disagreement to this file")
    args = ap.parse_args()

    cases = generate()
    decoded = run_decoder(args.decoder, cases)
    llvm = [None] * len(cases)
    with tempfile.TemporaryDirectory() as workdir:
        for mode in TRIPLES:
            idx = [i for i, c in enumerate(cases) if c.mode == mode]
            for i, length in zip(idx, run_llvm(args.objdump, args.objcopy, mode, [cases[i] for i in idx], workdir)):
                llvm[i] = length

    agree = 0
    covered = collections.Counter()
    examples = collections.defaultdict(list)
    unexplained = []
    for c, (result, length, _kind), theirs in zip(cases, decoded, llvm):
        ours = length if result == "Ok" else None
        if result == "NeedMoreBytes":
            unexplained.append((c, "needs-more", result, length, theirs))
            continue
        if ours == theirs:
            agree += 1
            continue
        what = "length" if ours and theirs else "decoder-rejects" if theirs else "llvm-rejects"
        for name, _reason, predicate in EXCLUSIONS:
            if predicate(c, what, result, ours, theirs):
                covered[name] += 1
                if len(examples[name]) < 3:
                    examples[name].append(c.describe())
                break
        else:
            unexplained.append((c, what, result, length, theirs))

    modes = collections.Counter(c.mode for c in cases)
    print("length cross-check: %d encodings (%s); %d agree with llvm-objdump, %d explained by %d exclusions"
          % (len(cases), ", ".join("%s %d" % kv for kv in modes.items()), agree, sum(covered.values()),
             len(covered)))
    stale = [name for name, _, _ in EXCLUSIONS if covered[name] == 0]
    for name, reason, _ in EXCLUSIONS:
        if args.verbose or name in stale:
            print("  exclusion %-28s %6d  %s" % (name, covered[name], reason))
            for e in examples[name]:
                print("      e.g. " + e)
    for c, what, result, length, theirs in unexplained[: args.show]:
        print("DISAGREE %-16s %-40s decoder %s/%d, llvm %s" % (what, c.describe(), result, length, theirs))
    if unexplained:
        print("%d disagreements without an exclusion" % len(unexplained))
    if args.dump:
        with open(args.dump, "w") as f:
            for c, what, result, length, theirs in unexplained:
                f.write("%s %s %s %s %s | %s %s %s\n" % (what, c.kind, c.map, "%02x" % c.opcode,
                        "--" if c.modrm is None else "%02x" % c.modrm, c.describe(), result, theirs))
    if stale:
        print("exclusions that match nothing (remove them): " + ", ".join(stale))
    return 1 if unexplained or stale else 0


if __name__ == "__main__":
    sys.exit(main())
