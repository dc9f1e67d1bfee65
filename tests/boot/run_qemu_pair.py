#!/usr/bin/env python3
"""Boot two QEMU machines, A and B, at the same time from the same Vireo ISO, joined by
a network of their own, and judge what each one's console shows (the harness of the
tests between two machines, such as live migration's).

Each machine is booted as run_qemu.py boots one (TCG, the hypervisor's options through
an SMBIOS OEM string, the console on a pipe the harness reads, debug_exit=0xf4 ending
QEMU through the isa-debug-exit device): --entry-a and --entry-b pick each one's GRUB
menu entry. --disk KIND:IMAGE gives both machines the disk, each on its own fresh copy
of IMAGE; --nic KIND gives both a NIC on a restricted user network of their own
(tests/boot/machine_devices.py).

--link KIND gives each machine one NIC of KIND (e1000e, e1000 or virtio-net) joined to
the other's, and to nothing else: the harness makes a connected pair of TCP sockets on
127.0.0.1 (a listener on port 0, a connect, an accept) and hands each QEMU one end
(`-netdev socket,fd=N`), so there is no port to race for and no order to start them in.
The two NICs get MAC addresses of their own (52:54:00:12:34:0a and :0b), since QEMU
would give both the same one.

Passes when both QEMUs exit with status --status within --timeout seconds (counted for
both from their common start), every --expect-a regex matches A's console and every
--expect-b B's, and no forbidden regex matches (--forbid on both, --forbid-a on A alone,
--forbid-b on B alone, besides a hypervisor panic or error line unless --allow-panic or
--allow-errors). A machine that fails or exits early does not stop the other: it is
still waited for, up to the timeout, and then killed. On failure prints both consoles
and both QEMUs' output, labelled A and B.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from console_pipe import ConsolePipe
from console_check import forbidden_patterns, report_sections
from machine_devices import NIC_KINDS, DeviceError, qemu_disk_args, qemu_link_args, qemu_nic_args
from run_qemu import iso_boot_args, judge, qemu_command, serial_args, wait_qemu

MACHINES = ("A", "B")
# The link NICs' MAC addresses: QEMU's own prefix, one for each machine.
LINK_MACS = {"A": "52:54:00:12:34:0a", "B": "52:54:00:12:34:0b"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iso", required=True, help="the image GRUB boots Vireo from, on both machines")
    parser.add_argument("--cpu", default="EPYC-Milan")
    parser.add_argument("--machine", default="pc")
    parser.add_argument("--smp", type=int, default=1)
    parser.add_argument("--single-threaded-tcg", action="store_true",
                        help="one TCG thread for all CPUs of a machine (run_qemu.py says why)")
    parser.add_argument("--mem", default="512M", help="each machine's memory")
    parser.add_argument("--options", default="", help="extra hypervisor command-line options (both machines)")
    parser.add_argument("--entry-a", default="", help="GRUB menu entry id that machine A boots")
    parser.add_argument("--entry-b", default="", help="GRUB menu entry id that machine B boots")
    parser.add_argument("--expect-a", action="append", default=[], help="a regex A's console must match (repeatable)")
    parser.add_argument("--expect-b", action="append", default=[], help="a regex B's console must match (repeatable)")
    parser.add_argument("--forbid", action="append", default=[], help="a regex neither console may match (repeatable)")
    parser.add_argument("--forbid-a", action="append", default=[], help="a regex A's console may not match (repeatable)")
    parser.add_argument("--forbid-b", action="append", default=[], help="a regex B's console may not match (repeatable)")
    parser.add_argument("--allow-panic", action="store_true", help="a hypervisor panic is what the test expects")
    parser.add_argument("--allow-errors", action="store_true", help="error log lines are what the test expects")
    parser.add_argument("--status", type=int, default=1, help="expected exit status of both QEMUs")
    parser.add_argument("--timeout", type=float, default=120, help="seconds both machines get, from their start")
    parser.add_argument("--disk", action="append", default=[], metavar="KIND:IMAGE",
                        help="a disk on each machine, each on its own fresh copy of IMAGE; KIND virtio, ahci "
                             "or ide (repeatable)")
    parser.add_argument("--nic", action="append", default=[], metavar="KIND",
                        help="a NIC on each machine on a restricted user network of its own (repeatable)")
    parser.add_argument("--link", choices=sorted(NIC_KINDS), metavar="KIND",
                        help="a NIC of KIND on each machine, joined to the other's: e1000e, e1000 or virtio-net")
    args = parser.parse_args()
    entries = {"A": args.entry_a, "B": args.entry_b}
    expects = {"A": args.expect_a, "B": args.expect_b}
    forbids = {"A": args.forbid_a, "B": args.forbid_b}

    # A SIGTERM (ctest's timeout) ends the run through the finally clause below, which
    # kills the QEMUs, so none is left behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with tempfile.TemporaryDirectory(prefix="vireo-pair-") as tmp:
        links = link_sockets() if args.link else None
        procs = {}
        try:
            # Each machine: its own directory (console FIFOs, disk copies), then its command.
            pipes, cmds = {}, {}
            for i, m in enumerate(MACHINES):
                directory = f"{tmp}/{m}"
                os.makedirs(directory)
                pipes[m] = ConsolePipe(directory)
                try:
                    devices = qemu_disk_args(args.disk, directory, args.machine, cdrom=True) + qemu_nic_args(args.nic)
                    if links:
                        devices += qemu_link_args(args.link, links[i].fileno(), LINK_MACS[m])
                except (DeviceError, OSError) as e:
                    print(f"FAIL: {e}")
                    return 2
                cmds[m] = qemu_command(args.cpu, args.machine, args.smp, args.mem, args.single_threaded_tcg,
                                       iso_boot_args(args.iso, entries[m], args.options), serial_args(pipes[m]),
                                       devices)
                print(f"+ {m}:", " ".join(cmds[m]), flush=True)

            # Both started, then each waited for in its own thread up to the same deadline.
            start = time.monotonic()
            for i, m in enumerate(MACHINES):
                fds = (links[i].fileno(),) if links else ()
                procs[m] = subprocess.Popen(cmds[m], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=fds)
                pipes[m].start()
            # The QEMUs hold the link's ends now: once one exits, the other sees its end close.
            if links:
                for s in links:
                    s.close()
            results = {}

            def wait(m):
                status, output = wait_qemu(procs[m], args.timeout - (time.monotonic() - start))
                results[m] = (status, output, time.monotonic() - start)

            waiters = [threading.Thread(target=wait, args=(m,), daemon=True) for m in MACHINES]
            for t in waiters:
                t.start()
            for t in waiters:
                t.join()
            consoles = {}
            for m in MACHINES:
                pipes[m].stop()
                consoles[m] = pipes[m].text().replace("\r", "")
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if links:
                for s in links:
                    s.close()

    problems, sections = [], []
    for m in MACHINES:
        status, output, elapsed = results[m]
        print(f"QEMU {m} finished in {elapsed:.1f} s with status {status}")
        forbidden = forbidden_patterns(args.allow_panic, args.allow_errors, args.forbid + forbids[m])
        problems += [f"{m}: {p}" for p in judge(status, args.status, args.timeout, consoles[m], expects[m], forbidden)]
        # QEMU ends on a SIGTERM from elsewhere (a `pkill qemu` of another run) with status
        # 0, as after a power-off, and says so: what a failure then owes to it.
        killed = re.search(r"^qemu-system-x86_64: terminating on signal .*$", output, re.MULTILINE)
        if killed:
            problems.append(f"{m}: QEMU was stopped from outside: {killed.group(0)!r}")
        sections += [(f"console {m}", consoles[m]), (f"QEMU {m}", output)]
    return report_sections(problems, sections)


def link_sockets():
    """The two ends of a TCP connection on 127.0.0.1: a listener on a port the kernel
    picks, a connect to it and the accept. (Another process could connect to that port
    first: only the accepted connection that comes from our own end is taken.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        a = socket.create_connection(listener.getsockname())
        while True:
            b, peer = listener.accept()
            if peer == a.getsockname():
                return a, b
            b.close()


if __name__ == "__main__":
    sys.exit(main())
