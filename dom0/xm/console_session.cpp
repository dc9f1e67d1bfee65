#include "dom0/xm/console_session.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <functional>

#include "dom0/xm/control_client.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"
#include "dom0/xm/xm_options.hpp"

namespace xm {

namespace {

// The terminal's settings while attached, given back however the session ends.
class RawTerminal {
public:
    RawTerminal() {
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        termios raw = saved_;
        cfmakeraw(&raw);
        active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    ~RawTerminal() {
        if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    termios saved_{};
    bool active_ = false;
};

// Copies `fd`'s output to stdout and what is typed to `fd` until Ctrl-] (0), the far
// end is gone (0, said on stderr) or an error (1). read 0 or EIO: gone (a console stream
// of a destroyed domain ends; a pty whose device model exited reads EIO, pty(7)); a
// write's ENOENT or EIO too. `after_output` runs after each piece of output.
int relay(int fd, const std::string& name, const std::function<void()>& after_output) {
    RawTerminal terminal;
    bool input_open = true;
    char buffer[4096];
    const auto gone = [&] {
        fprintf(stderr, "\r\nxm: domain %s is gone\r\n", name.c_str());
        return 0;
    };
    for (;;) {
        pollfd fds[2] = {{fd, POLLIN, 0}, {STDIN_FILENO, short(input_open ? POLLIN : 0), 0}};
        if (poll(fds, input_open ? 2 : 1, -1) < 0) {
            if (errno == EINTR) continue;
            return fail(std::string("console: poll: ") + strerror(errno));
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t n = read(fd, buffer, sizeof(buffer));
            if (n == 0 || (n < 0 && errno == EIO)) return gone();
            if (n < 0 && errno != EINTR && errno != EAGAIN)
                return fail(std::string("console: reading its output: ") + strerror(errno));
            if (n > 0 && !write_all(STDOUT_FILENO, buffer, size_t(n))) return 0;  // stdout closed
            after_output();
        }
        if (input_open && (fds[1].revents & (POLLIN | POLLHUP))) {
            const ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
            if (n == 0) {
                input_open = false;  // no more input; the output goes on until Ctrl-] or the end
                continue;
            }
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                return fail(std::string("console: reading the terminal: ") + strerror(errno));
            }
            const char* escape = static_cast<const char*>(memchr(buffer, kConsoleEscape, size_t(n)));
            const size_t typed = escape ? size_t(escape - buffer) : size_t(n);
            if (typed && !write_all(fd, buffer, typed)) {
                if (errno == ENOENT || errno == EIO) return gone();
                return fail(std::string("console: typing into it: ") + strerror(errno));
            }
            if (escape) return 0;
        }
    }
}

}  // namespace

int run_console(uint32_t id, const std::string& name, uint64_t position) {
    DeviceStream console;
    std::string error;
    if (!console.attach_console(id, position, error)) return fail("console " + name + ": " + error);
    uint64_t lost_said = 0;
    return relay(console.fd(), name, [&] {
        const uint64_t lost = console.lost();
        if (lost > lost_said) {
            fprintf(stderr, "\r\nxm: %llu bytes of %s's output were overwritten before they could be shown\r\n",
                    (unsigned long long)(lost - lost_said), name.c_str());
            lost_said = lost;
        }
    });
}

int run_pv_console(const std::string& name) {
    const std::string link = std::string(kPvConsoleDirectory) + "/" + name + ".hvc0";
    struct stat st;
    if (lstat(link.c_str(), &st) != 0) return fail("domain " + name + " has no PV console (no device model serves it)");
    // Its device model's pty; the name resolves to /dev/pts/N while the device model runs.
    const int fd = open(link.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return fail("domain " + name + " has no PV console (" + link +
                        " is left from a device model that is gone)");
        return fail("console " + name + ": " + link + ": " + strerror(errno));
    }
    const int status = relay(fd, name, [] {});
    close(fd);
    return status;
}

// console [-t pv|serial] DOMAIN: as `xl console -t`: serial (the default) is the
// domain's COM1, the stream the hypervisor keeps; pv is hvc0, the virtio console its
// device model serves on a pty.
int cmd_console(ControlClient& control, const Args& args) {
    std::string type = "serial";
    Args rest;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "-t" || args[i] == "--type") {
            if (i + 1 == args.size()) return fail("console: " + args[i] + " takes pv or serial");
            type = args[++i];
        } else {
            rest.push_back(args[i]);
        }
    }
    if (type != "pv" && type != "serial") return fail("console: -t " + type + ": the types are pv and serial");
    // -q is xm's: nothing to be quiet about here.
    ParsedOptions options;
    std::string error;
    if (!split_options(rest, "console", {{"-q", "quiet"}, {"--quiet", "quiet"}}, options, error)) return fail(error);
    hypercall::DomainStatus d;
    if (const int r = one_domain(control, options.rest, "console", d)) return r;
    if (d.id == 0) return fail("console: Domain-0's console is Vireo's own (this one)");
    if (type == "pv") return run_pv_console(domain_name(d));
    // What the domain prints from now on, as `xl console` shows it (press Enter for a
    // new prompt); xm create -c shows everything from the start instead.
    return run_console(d.id, domain_name(d), DeviceStream::kFromEnd);
}

}  // namespace xm
