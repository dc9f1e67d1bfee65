#!/usr/bin/env python3
"""Boot build/vireo.iso in QEMU (TCG) and judge what a user would see on the console.

The hypervisor gets extra command-line options through an SMBIOS OEM string that
boot/grub.cfg appends (`vireo:<options>`); with debug_exit=0xf4 it ends QEMU through
the isa-debug-exit device, whose exit status is (code << 1) | 1 (kernel/power.hpp).

Passes when every --expect regex matches the console output, no --forbid regex does,
and QEMU's exit status is --status. On failure prints the whole console log.

Instead of an ISO, --kernel (with --initrd and --append) boots a Linux kernel on plain
QEMU, without Vireo (Domain-0's baseline). --disk KIND:IMAGE and --nic KIND give the
machine disks (each run on a fresh copy of the image) and NICs (QEMU's user network
with restrict=on, and nothing else; without --nic the machine has no NIC):
tests/boot/machine_devices.py. --device and --qemu-arg=ARG pass more to QEMU.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

from console_pipe import ConsolePipe
from console_check import check_console, check_json, forbidden_patterns, report
from machine_devices import DeviceError, check_no_network, qemu_disk_args, qemu_exchange_args, qemu_nic_args


def main():
    parser = argparse.ArgumentParser()
    boot = parser.add_mutually_exclusive_group(required=True)
    boot.add_argument("--iso", help="the image GRUB boots Vireo from")
    boot.add_argument("--kernel", help="a Linux kernel QEMU boots itself (-kernel), without Vireo")
    parser.add_argument("--initrd", help="with --kernel: its initramfs")
    parser.add_argument("--append", default="", help="with --kernel: its command line")
    parser.add_argument("--cpu", default="EPYC-Milan")
    parser.add_argument("--machine", default="pc")
    parser.add_argument("--smp", type=int, default=1)
    parser.add_argument("--single-threaded-tcg", action="store_true",
                        help="one TCG thread for all CPUs (QEMU < 8.1.1 races when a guest remaps PCI BARs)")
    parser.add_argument("--mem", default="512M")
    parser.add_argument("--options", default="", help="extra hypervisor command-line options")
    parser.add_argument("--entry", default="", help="GRUB menu entry id to boot (guest-suite image)")
    parser.add_argument("--expect", action="append", default=[])
    parser.add_argument("--forbid", action="append", default=[])
    parser.add_argument("--expect-json", action="append", default=[], metavar="PREFIX",
                        help="the console lines that start with PREFIX form one JSON document")
    parser.add_argument("--allow-panic", action="store_true", help="a hypervisor panic is what the test expects")
    parser.add_argument("--allow-errors", action="store_true", help="error log lines are what the test expects")
    parser.add_argument("--status", type=int, default=1, help="expected QEMU exit status")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--serial-port", type=int, default=1, help="which COM port the console is on (1-4)")
    parser.add_argument("--type-when", nargs=2, metavar=("REGEX", "KEYS"), action="append", default=[],
                        help="type KEYS on the console once its output matches REGEX (repeatable: in order)")
    parser.add_argument("--disk", action="append", default=[], metavar="KIND:IMAGE",
                        help="a disk on a fresh copy of IMAGE; KIND virtio, ahci or ide (repeatable)")
    parser.add_argument("--exchange-disk", metavar="[new:]PATH",
                        help="a virtio disk on PATH itself, which tests pass saved domains on (new: made afresh)")
    parser.add_argument("--nic", action="append", default=[], metavar="KIND",
                        help="a NIC on a restricted user network: e1000e, e1000 or virtio-net (repeatable)")
    parser.add_argument("--device", action="append", default=[], help="a QEMU -device (repeatable)")
    parser.add_argument("--qemu-arg", action="append", default=[], metavar="ARG",
                        help="one more QEMU argument (repeatable; write --qemu-arg=-foo for one that starts with -)")
    args = parser.parse_args()
    if args.kernel is None and (args.initrd or args.append):
        parser.error("--initrd and --append go with --kernel")

    forbidden = forbidden_patterns(args.allow_panic, args.allow_errors, args.forbid)
    with tempfile.TemporaryDirectory(prefix="vireo-boot-") as tmp:
        console_pipe = ConsolePipe(tmp)
        serial = serial_args(console_pipe, args.serial_port)
        if args.iso:
            boot = iso_boot_args(args.iso, args.entry, args.options)
        else:
            boot = ["-kernel", args.kernel, "-append", args.append] + (["-initrd", args.initrd] if args.initrd else [])
        try:
            check_no_network(args.qemu_arg)
            devices = (qemu_disk_args(args.disk, tmp, args.machine, cdrom=bool(args.iso))
                       + (qemu_exchange_args(args.exchange_disk) if args.exchange_disk else []) + qemu_nic_args(args.nic)
                       + [a for d in args.device for a in ("-device", d)] + args.qemu_arg)
        except (DeviceError, OSError) as e:
            print(f"FAIL: {e}")
            return 2
        cmd = qemu_command(args.cpu, args.machine, args.smp, args.mem, args.single_threaded_tcg, boot, serial, devices)
        print("+", " ".join(cmd), flush=True)
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        console_pipe.start()
        if args.type_when:
            threading.Thread(target=type_when, args=(console_pipe, args.type_when, proc), daemon=True).start()
        status, qemu_output = wait_qemu(proc, args.timeout)
        elapsed = time.monotonic() - start
        console_pipe.stop()
        console = console_pipe.text()
    console = console.replace("\r", "")

    problems = judge(status, args.status, args.timeout, console, args.expect, forbidden)
    problems += check_json(console, args.expect_json)
    print(f"QEMU finished in {elapsed:.1f} s with status {status}")
    return report(problems, console, "QEMU", qemu_output)


# The pieces of a run, shared with run_qemu_pair.py (two machines at once).

def serial_args(console_pipe, serial_port=1):
    """QEMU options that put the console (CONSOLE_PIPE) on COM port SERIAL_PORT (1-4)."""
    return ["-serial", "null"] * (serial_port - 1) + ["-chardev", console_pipe.chardev("console"),
                                                      "-serial", "chardev:console"]


def iso_boot_args(iso, entry="", options=""):
    """QEMU options that boot Vireo from ISO: GRUB menu entry ENTRY (its default without
    one) and the hypervisor's extra OPTIONS, through the SMBIOS OEM string."""
    options = f"debug_exit=0xf4 {options}".strip()
    entry = f"[{entry}] " if entry else ""
    return ["-smbios", f"type=11,value=vireo:{entry}{options}", "-cdrom", iso]


def qemu_command(cpu, machine, smp, mem, single_threaded_tcg, boot, serial, devices):
    """The whole QEMU command line of a test machine (no display, no monitor, no reboot,
    the isa-debug-exit device), with the BOOT, SERIAL and DEVICES options."""
    # --single-threaded-tcg: Debian 12's QEMU 7.2 has a multi-threaded TCG race (fixed
    # upstream in 8.1.1, commit 0d58c660689f "softmmu: Use async_run_on_cpu in
    # tcg_commit"): when one vCPU changes the memory map (a guest toggling a PCI BAR's
    # decoding, as Domain-0's Linux does while it sizes BARs), another vCPU's MMIO write
    # can be dispatched through a stale TLB entry to a wrong region, and QEMU crashes
    # (SIGSEGV, or an assertion in the MSI-X table). One TCG thread has no such window.
    accel = "tcg,thread=single" if single_threaded_tcg else "tcg"
    return (["qemu-system-x86_64", "-accel", accel, "-cpu", cpu, "-machine", machine,
             "-smp", str(smp), "-m", mem, "-display", "none", "-monitor", "none",
             "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4"] + boot + serial + devices)


def wait_qemu(proc, timeout):
    """Waits up to TIMEOUT seconds for QEMU (PROC, its output on a pipe) to exit, and kills
    it then. Returns its exit status (None when it had to be killed) and its output."""
    try:
        out, _ = proc.communicate(timeout=max(timeout, 0))
        return proc.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return None, out.decode(errors="replace")


def judge(status, expected_status, timeout, console, expect, forbid):
    """The problems of a run: QEMU not exiting within TIMEOUT, or with another status
    than EXPECTED_STATUS; EXPECT patterns missing from CONSOLE, FORBID patterns in it."""
    problems = []
    if status is None:
        problems.append(f"QEMU did not exit within {timeout:.0f} s")
    elif status != expected_status:
        problems.append(f"QEMU exit status {status}, expected {expected_status}")
    return problems + check_console(console, expect, forbid)


def type_when(console_pipe, steps, proc):
    """For each (REGEX, KEYS) in turn: waits until the console output matches REGEX,
    then types KEYS on the console."""
    for pattern, keys in steps:
        while proc.poll() is None:
            if re.search(pattern, console_pipe.text(), re.MULTILINE):
                # Python escapes in KEYS (\\x01 for Ctrl-A, \\n) stand for those bytes.
                console_pipe.type(keys.encode("latin-1").decode("unicode_escape").encode("latin-1"))
                break
            time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
