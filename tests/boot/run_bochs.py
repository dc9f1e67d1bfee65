#!/usr/bin/env python3
"""Boot build/vireo.iso in Bochs (which emulates Intel VT-x) and judge the console.

Bochs runs headless (the `term` display, which opens no network port; its screen is read
and dropped, or Bochs would block once it fills: serve_stderr), COM1 goes to a file,
and the run stops when --until matches the console or at --timeout. Bochs' own exit
status says nothing (it is 1 for every guest-initiated exit), so only the console is
judged: every --expect must match and no --forbid may. Each --ata-disk IMAGE adds an ATA
hard disk on a fresh copy of IMAGE (the primary channel's slave, then the secondary's
master), --exchange-disk PATH one on a copy of PATH, after them, which is copied back
over PATH once Bochs has ended
(tests/boot/machine_devices.py).
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty

from console_check import check_console, forbidden_patterns, report
from machine_devices import DeviceError, bochs_disk_lines, bochs_exchange_back

BOCHSRC = """\
# `megs` stops at 2048; guest RAM beyond what Bochs keeps in host memory is paged.
memory: guest={megs}, host={host_megs}
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model={model}, count={cpus}, ips=50000000, reset_on_triple_fault=0, ignore_bad_msrs=0
ata0-master: type=cdrom, path={iso}, status=inserted
{disk}boot: cdrom
display_library: term
com1: enabled=1, mode=file, dev={serial}
log: {log}
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
mouse: enabled=0
speaker: enabled=0
sound: driver=dummy
"""


SCREEN_LINE = re.compile(rb'Bochs connected to screen "(/dev/[^"]+)"')


def drain(fd):
    """Reads `fd` until it ends (EOF, or EIO once the other side is closed)."""
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def serve_stderr(stream):
    """Bochs' stderr, read to its end. A Bochs built with its debugger (Debian's) gives
    the term display a pseudo-terminal of its own (its stdin and stdout are the
    debugger's), prints its name there, and writes the VGA screen to it: every screen
    update sets the cursor again, some 50 bytes a second of emulated time even when
    nothing changes. Nobody else opens that terminal: unread, its buffer fills after
    some 20 KiB and Bochs blocks in that write for good, the machine stopped with it (no
    instruction, no timer, no serial output), about 390 s of emulated time into a run
    (dom0_vmx_xm_save froze so during xm restore or save). So the screen is read here,
    and dropped."""
    for line in stream:
        m = SCREEN_LINE.search(line)
        if not m:
            continue
        try:
            fd = os.open(m.group(1).decode(errors="replace"), os.O_RDONLY | os.O_NOCTTY)
        except OSError as e:
            print(f"note: cannot open Bochs' screen {m.group(1)!r}: {e}", flush=True)
            continue
        try:
            tty.setraw(fd)  # no echo back into Bochs' keyboard, reads return at once
        except OSError:
            pass
        threading.Thread(target=drain, args=(fd,), daemon=True).start()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iso", required=True)
    parser.add_argument("--model", default="corei7_haswell_4770")
    parser.add_argument("--cpus", type=int, default=1)
    parser.add_argument("--megs", type=int, default=256)
    parser.add_argument("--until", required=True, help="stop once the console matches this regex")
    parser.add_argument("--expect", action="append", default=[])
    parser.add_argument("--forbid", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=240)
    parser.add_argument("--show-console", action="store_true", help="print the console even when the run passes")
    parser.add_argument("--allow-errors", action="store_true", help="error log lines are what the test expects")
    parser.add_argument("--ata-disk", metavar="IMAGE", action="append", default=[],
                        help="an ATA hard disk on a fresh copy of IMAGE (flat, raw; repeatable)")
    parser.add_argument("--exchange-disk", metavar="[new:]PATH",
                        help="an ATA disk on PATH itself, which tests pass saved domains on (new: made afresh)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vireo-bochs-") as tmp:
        serial = os.path.join(tmp, "serial.out")
        log = os.path.join(tmp, "bochs.log")
        rc = os.path.join(tmp, "bochsrc")
        try:
            disk = bochs_disk_lines(args.ata_disk, args.exchange_disk, tmp)
        except (DeviceError, OSError) as e:
            print(f"FAIL: {e}")
            return 2
        with open(rc, "w") as f:
            f.write(BOCHSRC.format(megs=args.megs, host_megs=min(args.megs, 2048), model=args.model, cpus=args.cpus,
                                   iso=os.path.abspath(args.iso), serial=serial, log=log, disk=disk))
        cmd = ["bochs", "-q", "-f", rc]
        print("+", " ".join(cmd), f"(model {args.model}, {args.cpus} CPUs)", flush=True)
        start = time.monotonic()
        # The debugger build waits at its prompt: "c" continues it.
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=dict(os.environ, TERM="xterm"), cwd=tmp, start_new_session=True)
        threading.Thread(target=serve_stderr, args=(proc.stderr,), daemon=True).start()
        proc.stdin.write(b"c\n")
        proc.stdin.flush()
        console, stopped_by = "", "timeout"
        while time.monotonic() - start < args.timeout:
            time.sleep(0.5)
            if os.path.exists(serial):
                console = open(serial, errors="replace").read().replace("\r", "")
            if re.search(args.until, console, re.MULTILINE):
                stopped_by = "marker"
                time.sleep(0.5)  # let the line after the marker land
                console = open(serial, errors="replace").read().replace("\r", "")
                break
            if proc.poll() is not None:
                stopped_by = f"Bochs exited ({proc.returncode})"
                break
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        elapsed = time.monotonic() - start
        if args.exchange_disk:
            bochs_exchange_back(args.exchange_disk, tmp)
        bochs_log = open(log, errors="replace").read() if os.path.exists(log) else ""

    problems = []
    if stopped_by != "marker":
        problems.append(f"the console never showed {args.until!r} ({stopped_by} after {elapsed:.0f} s)")
    problems += check_console(console, args.expect, forbidden_patterns(False, args.allow_errors, args.forbid))
    print(f"Bochs stopped by {stopped_by} after {elapsed:.1f} s")
    if args.show_console:
        print(console)
    # bochs.log names the exact failed VM-entry check and any Bochs panic.
    interesting = [l for l in bochs_log.splitlines() if re.search(r"PANIC|ERROR|VMFAIL|VMENTER|VMEXIT", l)]
    return report(problems, console, "bochs.log (errors and VM entries)", "\n".join(interesting)[-4000:])


if __name__ == "__main__":
    sys.exit(main())
