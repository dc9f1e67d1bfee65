"""What both boot harnesses (QEMU and Bochs) judge in the hypervisor console."""
import json
import re

# A hypervisor fault, an error log line, or a CPU reset (GRUB printing again) is never
# acceptable unless the test says so (--allow-panic, --allow-errors).
PANIC = r"VIREO PANIC"
ERROR_LINE = r"\] cpu\d+ E "
DEFAULT_FORBIDDEN = [PANIC, ERROR_LINE, r"GRUB loading.*GRUB loading"]


def forbidden_patterns(allow_panic, allow_errors, extra):
    dropped = {PANIC} if allow_panic else set()
    if allow_errors:
        dropped.add(ERROR_LINE)
    return [p for p in DEFAULT_FORBIDDEN if p not in dropped] + extra


def check_console(console, expect, forbid):
    """Returns the problems found: expected patterns missing, forbidden ones present."""
    problems = []
    for pattern in expect:
        if not re.search(pattern, console, re.MULTILINE):
            problems.append(f"expected output not found: {pattern!r}")
    for pattern in forbid:
        m = re.search(pattern, console, re.MULTILINE | re.DOTALL)
        if m:
            problems.append(f"forbidden output found: {pattern!r}: {m.group(0)[:120]!r}")
    return problems


def check_json(console, prefixes):
    """For each prefix: the text of the console lines that start with it, joined, must be
    one JSON document (what a program printed, e.g. `xm list --json`)."""
    problems = []
    for prefix in prefixes:
        lines = [l[len(prefix):] for l in console.split("\n") if l.startswith(prefix)]
        if not lines:
            problems.append(f"no JSON lines after {prefix!r}")
            continue
        try:
            json.loads("\n".join(lines))
        except ValueError as e:
            problems.append(f"the lines after {prefix!r} are not JSON: {e}")
    return problems


def report(problems, console, extra_title, extra_text):
    """Prints PASS, or the console, the extra log and each problem; returns the exit code."""
    return report_sections(problems, [("console", console), (extra_title, extra_text)])


def report_sections(problems, sections):
    """Prints PASS, or each (title, text) of SECTIONS and each problem; returns the exit code."""
    if not problems:
        print("PASS")
        return 0
    # The problems come first as well as last: CI's report keeps only the head and the
    # tail of a long log, and a console can be longer than both.
    for p in problems:
        print("FAIL:", p)
    for title, text in sections:
        print(f"---- {title} ----")
        print(text)
    for p in problems:
        print("FAIL:", p)
    return 1
