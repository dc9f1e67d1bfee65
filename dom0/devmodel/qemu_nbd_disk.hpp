// An image that QEMU's qemu-nbd (Debian's qemu-utils) serves on a Linux NBD device in
// Domain-0: `qemu-nbd --connect=/dev/nbdN` (qemu-nbd(8)) turns an image of any format
// QEMU reads into a block device, and Linux's nbd driver (Documentation/admin-guide/
// blockdev/nbd.rst) forwards every request to it. Disconnecting makes qemu-nbd flush the
// image and exit; the destructor waits for that, so that the image is whole (and free of
// qemu-nbd's lock) once the device model has let go of it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace devmodel {

class QemuNbdDisk {
public:
    // Connects `image` (in `format`) to the first free /dev/nbdN. nullptr with a sentence
    // in `error` when qemu-nbd is missing, no NBD device is free, or qemu-nbd refuses.
    static std::unique_ptr<QemuNbdDisk> connect(const std::string& image, const std::string& format, bool read_only,
                                                std::string& error);
    ~QemuNbdDisk();
    QemuNbdDisk(const QemuNbdDisk&) = delete;
    QemuNbdDisk& operator=(const QemuNbdDisk&) = delete;

    const std::string& device() const { return device_; }

private:
    QemuNbdDisk(std::string device, pid_t server) : device_(std::move(device)), server_(server) {}

    std::string device_;
    pid_t server_;  // qemu-nbd's server process (the nbd driver's /sys/block/nbdN/pid)
};

}  // namespace devmodel
