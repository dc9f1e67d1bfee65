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


def reg_of(c):
    return None if c.modrm is None else (c.modrm >> 3) & 7


def mod_of(c):
    return None if c.modrm is None else c.modrm >> 6


def rex_of(c):
    """The REX byte that applies (the prefix directly before the opcode), or 0."""
    if c.mode == "long64" and c.prefixes and 0x40 <= c.prefixes[-1] <= 0x4F:
        return c.prefixes[-1]
    return 0


def lock_allowed(c):
    """SDM vol. 2 "LOCK": the read-modify-write instructions with a memory destination."""
    op, reg = c.opcode, reg_of(c)
    if c.kind != "legacy" or mod_of(c) in (None, 3):
        return False
    if c.map == "1":
        return (op in (0x00, 0x01, 0x08, 0x09, 0x10, 0x11, 0x18, 0x19, 0x20, 0x21, 0x28, 0x29, 0x30, 0x31)
                or (0x80 <= op <= 0x83 and reg != 7) or op in (0x86, 0x87)
                or (op in (0xF6, 0xF7) and reg in (2, 3)) or (op in (0xFE, 0xFF) and reg in (0, 1)))
    if c.map == "0f":
        return (op in (0xAB, 0xB3, 0xBB, 0xB0, 0xB1, 0xC0, 0xC1) or (op == 0xBA and reg >= 5)
                or (op == 0xC7 and reg == 1))
    return False


def vector_context(c):
    """C4/C5/62 are VEX/EVEX in 64-bit mode or before a register-form byte, 8F is XOP
    when the next byte's mmmmm >= 8."""
    if c.map != "1" or c.opcode not in (0xC4, 0xC5, 0x62, 0x8F) or c.modrm is None:
        return False
    if c.opcode == 0x8F:
        return (c.modrm & 0x1F) >= 8
    return c.mode == "long64" or c.modrm >> 6 == 3


SSE_0F = set(range(0x10, 0x18)) | set(range(0x28, 0x30)) | set(range(0x50, 0x80)) | set(range(0xC2, 0xC7)) | \
    set(range(0xD0, 0x100))


@exclusion("lock-not-allowed", "LOCK on an instruction or form that cannot be locked is #UD (SDM vol. 2 LOCK); "
           "llvm-objdump prints the lock prefix as a pseudo-instruction and decodes the rest")
def _(c, what, result, ours, theirs):
    return what == "decoder-rejects" and 0xF0 in c.prefixes and not lock_allowed(c)


@exclusion("vex-after-prefix", "66, F2, F3, LOCK or REX before VEX/EVEX/XOP is #UD (SDM vol. 2 2.3.2); "
           "LLVM ignores the prefix")
def _(c, what, result, ours, theirs):
    return what == "decoder-rejects" and vector_context(c) and (
        any(p in c.prefixes for p in (0x66, 0xF2, 0xF3, 0xF0)) or rex_of(c))


@exclusion("mov-sreg-invalid", "MOV to CS, or to segment register 6/7, is #UD (SDM vol. 2 MOV); LLVM decodes it")
def _(c, what, result, ours, theirs):
    return what == "decoder-rejects" and c.map == "1" and c.opcode == 0x8E and reg_of(c) in (1, 6, 7)


@exclusion("ud-opcodes", "UD0 (0F FF), UD1 (0F B9), UD2 (0F 0B) always raise #UD (SDM vol. 2 UD); LLVM "
           "decodes them as instructions")
def _(c, what, result, ours, theirs):
    return what == "decoder-rejects" and c.map == "0f" and c.opcode in (0x0B, 0xB9, 0xFF)


@exclusion("mov-crdr-register", "MOV with CR1, CR5-CR7, CR9-CR15 or DR8-DR15 is #UD (SDM vol. 2 MOV CR/DR); "
           "LLVM decodes it")
def _(c, what, result, ours, theirs):
    if what != "decoder-rejects" or c.map != "0f" or not 0x20 <= c.opcode <= 0x23:
        return False
    n = reg_of(c) + (8 if rex_of(c) & 4 else 0)
    if c.opcode in (0x20, 0x22):
        n += 8 if 0xF0 in c.prefixes else 0  # AMD: LOCK MOV CR0 is MOV CR8
        return n not in (0, 2, 3, 4, 8)
    return n >= 8


@exclusion("via-padlock", "0F A6/A7 are VIA PadLock instructions, #UD on AMD and Intel processors; LLVM "
           "decodes them")
def _(c, what, result, ours, theirs):
    return what == "decoder-rejects" and c.map == "0f" and c.opcode in (0xA6, 0xA7)


@exclusion("sse4a-forms", "66/F2 0F 78 on AMD is EXTRQ/INSERTQ, register forms only (/0 for EXTRQ), else "
           "#UD (APM vol. 4); LLVM decodes the memory forms as VMREAD")
def _(c, what, result, ours, theirs):
    return (what == "decoder-rejects" and c.map == "0f" and c.opcode == 0x78 and
            (0x66 in c.prefixes or 0xF2 in c.prefixes) and (mod_of(c) != 3 or reg_of(c) != 0))


@exclusion("rex-before-prefix", "a REX prefix followed by a legacy prefix is ignored (SDM vol. 2 2.2.1), the "
           "66 still selects 16-bit immediates; llvm-objdump splits 'REX 66' off as a 'data16' "
           "pseudo-instruction and decodes the rest without it")
def _(c, what, result, ours, theirs):
    if what != "length" or c.mode != "long64":
        return False
    seen_rex = False
    for p in c.prefixes:
        if 0x40 <= p <= 0x4F:
            seen_rex = True
        elif seen_rex and p == 0x66:
            return True
    return False


@exclusion("rexw-near-branch", "66 with REX.W on a near branch in 64-bit mode: REX.W takes precedence "
           "(SDM vol. 2 table 2-4), rel32 as QEMU decodes it; LLVM takes rel16")
def _(c, what, result, ours, theirs):
    return (what == "length" and c.mode == "long64" and 0x66 in c.prefixes and rex_of(c) & 8 and
            ((c.map == "0f" and 0x80 <= c.opcode <= 0x8F) or (c.map == "1" and c.opcode in (0xE8, 0xE9))))


@exclusion("15-byte-limit", "an instruction longer than 15 bytes is #GP (SDM vol. 2 2.3.11); LLVM has no limit")
def _(c, what, result, ours, theirs):
    return what == "decoder-rejects" and result == "TooLong" and theirs > 15


@exclusion("x87-reserved", "x87 escapes D8-DF: every encoding has a ModRM byte and no more (SDM vol. 2 A.5); "
           "LLVM has no decoding for the reserved and alias forms (FSTP1, FXCH4, FCOMP5 ...)")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and c.map == "1" and 0xD8 <= c.opcode <= 0xDF


@exclusion("int1", "F1 is INT1/ICEBP (SDM vol. 2 INT n/INTO/INT3/INT1); LLVM 14 does not decode it")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and c.map == "1" and c.opcode == 0xF1


@exclusion("shift-group-6", "group 2 /6 (C0 C1 D0-D3) is an undocumented alias of SHL/SAL /4 that processors "
           "execute (sandpile.org); LLVM rejects it")
def _(c, what, result, ours, theirs):
    return (what == "llvm-rejects" and c.map == "1" and c.opcode in (0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3) and
            reg_of(c) == 6)


@exclusion("test-group-1", "group 3 /1 (F6 F7) is an undocumented alias of TEST /0, with its immediate "
           "(sandpile.org); LLVM rejects it")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and c.map == "1" and c.opcode in (0xF6, 0xF7) and reg_of(c) == 1


@exclusion("hint-nop", "0F 0D and 0F 18-1F are PREFETCH/hint-NOP space: every ModRM form is defined (SDM vol. 2 "
           "NOP, PREFETCHh; APM vol. 3 PREFETCH); LLVM decodes only the assigned ones")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and c.map == "0f" and (c.opcode == 0x0D or 0x18 <= c.opcode <= 0x1F)


@exclusion("mov-crdr-mod", "MOV CRn/DRn ignore ModRM.mod: always register operands, no SIB or displacement "
           "(SDM vol. 2 MOV CR/DR); LLVM rejects mod != 11")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and c.map == "0f" and 0x20 <= c.opcode <= 0x23 and mod_of(c) != 3


@exclusion("rep-on-0f-map", "F2/F3 on a 0F-map instruction that has no form with that prefix: reserved (SDM vol. 2 "
           "2.1.1); the decoder keeps the opcode's shape, LLVM rejects")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and c.map == "0f" and (0xF2 in c.prefixes or 0xF3 in c.prefixes)


@exclusion("sse-undefined-form", "an SSE/MMX opcode with a 66 prefix or ModRM form it does not define is #UD; the "
           "decoder has no per-prefix validity table and keeps the opcode's length (kind Other)")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and c.map == "0f" and c.opcode in SSE_0F


@exclusion("group-reserved-forms", "groups 6, 7, 15 and 9 (0F 00, 0F 01, 0F AE, 0F C7) have reserved ModRM forms that "
           "are #UD; the decoder keeps their (ModRM-only) length without a table of the assigned ones")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and c.map == "0f" and c.opcode in (0x00, 0x01, 0xAE, 0xC7)


@exclusion("66-on-system", "66 on an operand-less system instruction (WBINVD, GETSEC ...) has nothing to "
           "resize and does not change the length; LLVM rejects it in 32/64-bit mode")
def _(c, what, result, ours, theirs):
    return (what == "llvm-rejects" and c.map == "0f" and 0x66 in c.prefixes and
            c.opcode in (0x05, 0x06, 0x07, 0x08, 0x09, 0x0E, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37, 0x77, 0xA2, 0xAA))


@exclusion("3dnow-suffix", "3DNow! (0F 0F): ModRM, then the opcode as an imm8 suffix (APM vol. 3 A.2); the "
           "decoder does not check which suffixes exist")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and c.map == "0f" and c.opcode == 0x0F


@exclusion("three-byte-undefined", "0F 38 (ModRM) and 0F 3A (ModRM, imm8) have one shape each (SDM vol. 2 A.3); "
           "the decoder does not check which opcodes exist")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and c.map in ("0f38", "0f3a")


@exclusion("vector-undefined", "VEX/EVEX/XOP opcodes: the decoder length-decodes every opcode of a valid map "
           "(ModRM, imm8 in map 3 and the legacy imm8 opcodes) without checking it exists")
def _(c, what, result, ours, theirs):
    return what == "llvm-rejects" and (c.kind in ("vex2", "vex3", "evex", "xop") or vector_context(c))


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
