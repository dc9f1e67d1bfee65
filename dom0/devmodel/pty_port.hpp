// The Linux end of a domU's virtio console: a pseudo-terminal pair in Domain-0 (pty(7):
// posix_openpt, grantpt, unlockpt, ptsname). The device model reads and writes the
// master; whoever wants the domU's hvc0 opens the slave, /dev/pts/N (`xm console -t pv`,
// or any program), as with Xen's or QEMU's pty consoles.
//
// The slave is raw (cfmakeraw(3): no echo, no line editing, no newline translation), so
// bytes pass unchanged both ways; the domU's own tty does the line discipline.
//
// The port keeps a descriptor of the slave open itself, so that the master never sees a
// hangup while nobody else has the slave open (reads would fail with EIO and poll would
// report POLLHUP for ever: pty(7)), and a reader that comes later finds what the domU
// wrote meanwhile.
//
// Output is never held back: Linux's virtio_console driver waits, spinning, until the
// device has taken each buffer of hvc output (drivers/char/virtio_console.c,
// __send_to_port), so a device that waited for a reader would stop the domU's vCPU. The
// master is non-blocking; what the pty cannot take now is DROPPED (and counted). The
// kernel's buffers of the pty keep what fits for a reader that comes later (a bounded
// amount, the kernel's choice); no buffer of the device model's own is added. Losing console output
// nobody reads is what a serial line without a listener does too.
//
// Linux (and any POSIX system with ptys); host-tested (tests/unit/pty_port_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dom0/devmodel/byte_stream.hpp"
#include "dom0/devmodel/log_sink.hpp"

namespace devmodel {

class PtyPort final : public ByteSource, public ByteSink {
public:
    // A new pty pair; `name` ("hvc0") names the port in its log lines. Nullptr with a
    // sentence in `error` when there is none to be had.
    static std::unique_ptr<PtyPort> open(const std::string& name, LogSink log, std::string& error);
    ~PtyPort();
    PtyPort(const PtyPort&) = delete;
    PtyPort& operator=(const PtyPort&) = delete;

    // The master, to poll for POLLIN (input typed into the slave).
    int fd() const { return master_; }
    // "/dev/pts/N".
    const std::string& slave_path() const { return slave_path_; }
    // Output bytes dropped so far because the pty was full.
    uint64_t dropped() const { return dropped_; }

    // ByteSource: what was written into the slave, without waiting.
    size_t read_bytes(uint8_t* buf, size_t max) override;
    // ByteSink: to the slave's readers; what does not fit now is dropped. The first drop
    // after output that went through is logged, and how much was dropped once output
    // goes through again.
    void write_bytes(const uint8_t* data, size_t len) override;

private:
    PtyPort(int master, int slave, std::string slave_path, std::string name, LogSink log)
        : master_(master),
          slave_(slave),
          slave_path_(std::move(slave_path)),
          name_(std::move(name)),
          log_(std::move(log)) {}

    int master_;
    int slave_;  // kept open: see above
    std::string slave_path_;
    std::string name_;
    LogSink log_;
    uint64_t dropped_ = 0;
    uint64_t dropped_said_ = 0;  // dropped_ when the current run of drops began
    bool dropping_ = false;
};

}  // namespace devmodel
