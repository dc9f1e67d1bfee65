#include "dom0/devmodel/tap_port.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace devmodel {

namespace {

std::string describe(int error) { return strerror(error); }

// What Linux accepts as an interface name (its dev_valid_name): 1 to IFNAMSIZ - 1
// characters, not "." or "..", no '/', ':' or white space. Said here, so that the
// error names the problem rather than the ioctl's EINVAL.
bool valid_interface_name(const std::string& name, std::string& error) {
    if (name.empty() || name.size() >= IFNAMSIZ) {
        error = "interface name '" + name + "' is not 1 to " + std::to_string(IFNAMSIZ - 1) + " characters";
        return false;
    }
    if (name == "." || name == ".." || name.find_first_of("/: \t\n\v\f\r") != std::string::npos) {
        error = "interface name '" + name + "' is not valid (no '/', ':' or spaces; not '.' or '..')";
        return false;
    }
    return true;
}

void set_name(ifreq& request, const std::string& name) {
    memset(&request, 0, sizeof(request));
    memcpy(request.ifr_name, name.c_str(), name.size());  // valid_interface_name: shorter than IFNAMSIZ
}

// A socket for interface ioctls; any family reaches them (as brctl's AF_LOCAL one does).
class ControlSocket {
public:
    ControlSocket() : fd_(socket(AF_LOCAL, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
    ~ControlSocket() {
        if (fd_ >= 0) close(fd_);
    }
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;
    int fd() const { return fd_; }

private:
    int fd_;
};

}  // namespace

std::unique_ptr<TapPort> TapPort::open(const std::string& name, std::string& error) {
    if (!valid_interface_name(name, error)) return nullptr;
    const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        error = e == ENOENT || e == ENODEV || e == ENXIO
                    ? "/dev/net/tun: " + describe(e) + " (is Domain-0's kernel built with the tun driver?)"
                    : "/dev/net/tun: " + describe(e);
        return nullptr;
    }
    ifreq request;
    set_name(request, name);
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &request) < 0) {
        const int e = errno;
        close(fd);
        switch (e) {
            case EPERM: error = "tap " + name + ": not permitted (creating one needs CAP_NET_ADMIN)"; break;
            case EBUSY: error = "tap " + name + " is already in use (by another device model?)"; break;
            case EINVAL: error = "interface " + name + " exists and is not a tap device"; break;
            default: error = "tap " + name + ": " + describe(e); break;
        }
        return nullptr;
    }
    request.ifr_name[IFNAMSIZ - 1] = '\0';
    return std::unique_ptr<TapPort>(new TapPort(fd, request.ifr_name));
}

TapPort::~TapPort() { close(fd_); }

void TapPort::note_error(int error) {
    // EBADFD: the tun driver detached the file from its interface (deleted); every
    // later read and write fails the same way.
    if (error == EBADFD || error == EBADF) broken_ = true;
}

bool TapPort::send(const uint8_t* frame, size_t len) {
    if (broken_) return false;
    for (;;) {
        const ssize_t n = write(fd_, frame, len);
        if (n >= 0) return static_cast<size_t>(n) == len;
        if (errno == EINTR) continue;
        // EAGAIN (the interface's queue is full), EIO (it is down) and the like lose
        // this frame only.
        note_error(errno);
        return false;
    }
}

size_t TapPort::receive(uint8_t* buf, size_t capacity) {
    if (broken_) return 0;
    // One frame per read, cut to the length asked for, and the read says only how much
    // it copied: one byte more is asked for, so that a frame longer than `capacity`
    // shows (the caller drops it).
    uint8_t overflow = 0;
    iovec parts[2] = {{buf, capacity}, {&overflow, 1}};
    for (;;) {
        const ssize_t n = readv(fd_, parts, 2);
        if (n >= 0) return static_cast<size_t>(n);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) note_error(errno);
        return 0;
    }
}

bool attach_to_bridge(const std::string& interface, const std::string& bridge, std::string& error) {
    if (!valid_interface_name(interface, error) || !valid_interface_name(bridge, error)) return false;
    const unsigned index = if_nametoindex(interface.c_str());
    if (index == 0) {
        error = "interface " + interface + " does not exist";
        return false;
    }
    if (if_nametoindex(bridge.c_str()) == 0) {
        error = "bridge " + bridge + " does not exist";
        return false;
    }
    ControlSocket control;
    if (control.fd() < 0) {
        error = std::string("socket for interface control: ") + describe(errno);
        return false;
    }
    auto failed = [&](const std::string& what) {
        const int e = errno;
        error = what + ": " + describe(e) + (e == EPERM ? " (needs CAP_NET_ADMIN)" : "");
        return false;
    };

    // The tap's address: fe:ff:ff:ff:ff:ff (see the header). Before the interface is
    // up, when every driver takes a new address.
    ifreq request;
    set_name(request, interface);
    request.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memset(request.ifr_hwaddr.sa_data, 0xff, 6);
    request.ifr_hwaddr.sa_data[0] = static_cast<char>(0xfe);
    if (ioctl(control.fd(), SIOCSIFHWADDR, &request) < 0)
        return failed("setting the MAC address of " + interface + " to fe:ff:ff:ff:ff:ff");

    set_name(request, bridge);
    request.ifr_ifindex = static_cast<int>(index);
    if (ioctl(control.fd(), SIOCBRADDIF, &request) < 0) {
        const int e = errno;
        switch (e) {
            // Linux answers EOPNOTSUPP for an interface that is not a bridge (older
            // kernels EINVAL from drivers that take private ioctls).
            case EOPNOTSUPP:
            case EINVAL: error = bridge + " is not a bridge (adding " + interface + ": " + describe(e) + ")"; break;
            case EBUSY: error = interface + " is already in a bridge (adding it to " + bridge + ")"; break;
            case ELOOP: error = "adding " + interface + " to bridge " + bridge + " would make a loop"; break;
            default: errno = e; return failed("adding " + interface + " to bridge " + bridge);
        }
        return false;
    }

    set_name(request, interface);
    if (ioctl(control.fd(), SIOCGIFFLAGS, &request) < 0) return failed("reading the flags of " + interface);
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    if (ioctl(control.fd(), SIOCSIFFLAGS, &request) < 0) return failed("bringing " + interface + " up");
    return true;
}

}  // namespace devmodel
