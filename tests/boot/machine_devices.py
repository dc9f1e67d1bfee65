"""Disks and NICs for a test machine (QEMU's options, Bochs' ATA disk), shared by
run_qemu.py, run_qemu_pair.py, run_bochs.py and tools/bench-dom0.

A test writes to its disks, so each run gets its own copy of each image, in a
directory the caller removes; but for the exchange disk, which one test's machine
leaves a saved domain on for the next test's machine, whose writes stay. NICs only ever use QEMU's user network with restrict=on,
which lets the guest reach nothing but QEMU's own DHCP server (QEMU's documentation of
`-netdev user`: "restrict=on|off: If this option is enabled, the guest will be isolated,
i.e. it will not be able to contact the host and no guest IP packets will be routed over
the host to the outside"). The one other network is run_qemu_pair.py's link: a NIC
joined to the other machine's NIC alone, through a connected socket the harness made.
"""
import os

# --disk KIND:IMAGE. virtio: virtio-blk-pci, modern only (virtio 1.0, MSI-X); ahci: a
# separate AHCI controller (`-device ahci`, one for all such disks, 6 ports); ide: the
# machine's own disk controller through `-drive if=ide` (the PIIX IDE on `pc`, the ICH9
# AHCI on `q35`).
DISK_KINDS = ("virtio", "ahci", "ide")
# --nic KIND -> QEMU device.
NIC_KINDS = {"e1000e": "e1000e", "e1000": "e1000", "virtio-net": "virtio-net-pci,disable-legacy=on"}
AHCI_PORTS = 6
# `-drive if=ide` indexes: two channels of two on pc's PIIX, six AHCI ports on q35's ICH9.
# -cdrom takes index 2 (the secondary channel's master, or port 2).
IDE_INDEXES = {"pc": 4, "q35": 6}
CDROM_INDEX = 2


class DeviceError(Exception):
    pass


def parse_disk(spec):
    """KIND:IMAGE -> (kind, image); raises DeviceError with what is wrong."""
    kind, sep, image = spec.partition(":")
    if not sep or kind not in DISK_KINDS or not image:
        raise DeviceError(f"--disk {spec!r}: expected KIND:IMAGE with KIND one of {', '.join(DISK_KINDS)}")
    if not os.path.isfile(image):
        raise DeviceError(f"--disk {spec!r}: {image} is not a file")
    return kind, image


def copy_image(image, directory, name):
    """Copies IMAGE into DIRECTORY as NAME, keeping runs of zeros as holes (a bench image
    is mostly zeros), and returns the copy's path."""
    copy = os.path.join(directory, name)
    with open(image, "rb") as src, open(copy, "wb") as dst:
        while True:
            block = src.read(1 << 20)
            if not block:
                break
            if block.count(0) == len(block):
                dst.seek(len(block), os.SEEK_CUR)
            else:
                dst.write(block)
        dst.truncate()
    if os.path.getsize(copy) != os.path.getsize(image):
        raise DeviceError(f"copying {image} to {copy}: the copy has {os.path.getsize(copy)} bytes, "
                          f"the image {os.path.getsize(image)}")
    return copy


def qemu_disk_args(specs, directory, machine="pc", cdrom=False):
    """QEMU options for the --disk specs, on fresh copies of their images in DIRECTORY."""
    machine_kind = "q35" if "q35" in machine else "pc"
    ide_free = [i for i in range(IDE_INDEXES[machine_kind]) if not (cdrom and i == CDROM_INDEX)]
    args, ahci_port = [], 0
    for n, spec in enumerate(specs):
        kind, image = parse_disk(spec)
        copy = copy_image(image, directory, f"disk{n}-{kind}-{os.path.basename(image)}")
        drive = f"file={copy},format=raw"
        if kind == "virtio":
            args += ["-drive", f"if=none,id=disk{n},{drive}", "-device", f"virtio-blk-pci,drive=disk{n},disable-legacy=on"]
        elif kind == "ahci":
            if ahci_port == AHCI_PORTS:
                raise DeviceError(f"--disk {spec!r}: the AHCI controller has only {AHCI_PORTS} ports")
            if ahci_port == 0:
                args += ["-device", "ahci,id=vahci"]
            args += ["-drive", f"if=none,id=disk{n},{drive}", "-device", f"ide-hd,drive=disk{n},bus=vahci.{ahci_port}"]
            ahci_port += 1
        else:
            if not ide_free:
                raise DeviceError(f"--disk {spec!r}: no free IDE position left on the {machine_kind} machine")
            args += ["-drive", f"if=ide,index={ide_free.pop(0)},media=disk,{drive}"]
    return args


# --exchange-disk [new:]PATH: one raw file, which each machine's writes stay in (QEMU's on
# the file itself, Bochs' on a copy put back after), on which one test's
# machine leaves a saved domain for the next test's machine, perhaps another emulator's
# (the cross-vendor save tests, tests/dom0/init.sh's vireo.cross). Its first sector says
# VIREO-EXCHANGE, by which Domain-0 finds it; "new:" makes it afresh. Its size is a whole
# number of Bochs' 16-head, 63-sector cylinders (bochs_disk_copy), room for a domU of
# 128 MiB and its disk.
EXCHANGE_MAGIC = b"VIREO-EXCHANGE\n"
EXCHANGE_BYTES = 400 * 16 * 63 * 512


def exchange_disk(spec):
    """The exchange disk's path, made afresh for "new:PATH"; raises DeviceError if an
    existing one is missing or not an exchange disk."""
    fresh = spec.startswith("new:")
    path = spec[len("new:"):] if fresh else spec
    if fresh:
        with open(path, "wb") as f:
            f.write(EXCHANGE_MAGIC)
            f.truncate(EXCHANGE_BYTES)
        return path
    if not os.path.isfile(path):
        raise DeviceError(f"--exchange-disk {spec}: {path} is not a file (the test that makes it must run first)")
    with open(path, "rb") as f:
        if f.read(len(EXCHANGE_MAGIC)) != EXCHANGE_MAGIC:
            raise DeviceError(f"--exchange-disk {spec}: {path} does not begin with {EXCHANGE_MAGIC!r}")
    return path


def qemu_exchange_args(spec):
    """QEMU options for the exchange disk: a virtio disk on the file itself."""
    path = exchange_disk(spec)
    return ["-drive", f"if=none,id=exchange,file={path},format=raw",
            "-device", "virtio-blk-pci,drive=exchange,disable-legacy=on"]


def bochs_disk_lines(images, exchange, directory):
    """The bochsrc lines of the ATA disks: fresh copies of IMAGES, then a copy of the
    exchange disk, in the places the CD-ROM (the primary channel's master) leaves: the
    primary's slave, then the secondary channel's master and slave. Bochs locks the
    images it opens (IMAGE.lock), and a Bochs killed leaves its lock: so the exchange
    disk too is a copy, which bochs_exchange_back puts back once Bochs has ended."""
    places = ["ata0-slave", "ata1-master", "ata1-slave"]
    paths = [bochs_disk_copy(image, directory) for image in images]
    if exchange:
        paths.append(copy_image(exchange_disk(exchange), directory, "exchange.img"))
    if len(paths) > len(places):
        raise DeviceError(f"{len(paths)} ATA disks: Bochs' two channels take {len(places)} beside the CD-ROM")
    lines = "".join(f"{place}: type=disk, path={path}, mode=flat\n" for place, path in zip(places, paths))
    if len(paths) > 1:
        lines = "ata1: enabled=1, ioaddr1=0x170, ioaddr2=0x370, irq=15\n" + lines
    return lines


def bochs_exchange_back(exchange, directory):
    """The exchange disk's copy (bochs_disk_lines) back over the exchange disk."""
    path = exchange_disk(exchange)
    copy_image(os.path.join(directory, "exchange.img"), os.path.dirname(os.path.abspath(path)),
               os.path.basename(path))


def qemu_nic_args(kinds):
    """QEMU options for the --nic kinds, each on its own restricted user network; with
    none, `-nic none`, so QEMU adds no default NIC (whose user network is not
    restricted)."""
    if not kinds:
        return ["-nic", "none"]
    args = []
    for n, kind in enumerate(kinds):
        if kind not in NIC_KINDS:
            raise DeviceError(f"--nic {kind!r}: expected one of {', '.join(NIC_KINDS)}")
        args += ["-netdev", f"user,id=net{n},restrict=on", "-device", f"{NIC_KINDS[kind]},netdev=net{n}"]
    return args


def qemu_link_args(kind, fd, mac):
    """QEMU options for a NIC of KIND, with the MAC address MAC, on QEMU's socket network
    over FD, a connected stream socket the harness made and QEMU inherits (`-netdev
    socket,fd=N`: QEMU sends each frame over it after its length, as 4 bytes, big-endian),
    whose other end is another machine's NIC: a cable between the two, nothing else on it. (Each end needs its own MAC:
    QEMU gives every machine's first NIC the same one, 52:54:00:12:34:56.)"""
    if kind not in NIC_KINDS:
        raise DeviceError(f"--link {kind!r}: expected one of {', '.join(NIC_KINDS)}")
    return ["-netdev", f"socket,id=link,fd={fd}", "-device", f"{NIC_KINDS[kind]},netdev=link,mac={mac}"]


def check_no_network(qemu_args):
    """Extra QEMU options may not add a network: --nic is the only way, always restricted."""
    for a in qemu_args:
        if a.split("=")[0] in ("-net", "-netdev", "-nic", "--net", "--netdev", "--nic"):
            raise DeviceError(f"--qemu-arg {a!r}: networks come only from --nic (user network, restrict=on)")


def bochs_disk_copy(image, directory):
    """A fresh copy of IMAGE for an ATA disk. Bochs takes a flat image's geometry from its
    size, in cylinders of 16 heads and 63 sectors (tests/dom0/make-disk-image pads to that)."""
    size = os.path.getsize(image)
    if size % (16 * 63 * 512):
        raise DeviceError(f"--ata-disk {image}: {size} bytes is not a whole number of 16-head, "
                          f"63-sector cylinders ({16 * 63 * 512} bytes), which Bochs needs")
    return copy_image(image, directory, "ata-" + os.path.basename(image))

