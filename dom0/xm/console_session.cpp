#include "dom0/xm/console_session.hpp"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

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

}  // namespace

int run_console(uint32_t id, const std::string& name, uint64_t position) {
    DeviceStream console;
    std::string error;
    if (!console.attach_console(id, position, error)) return fail("console " + name + ": " + error);
    RawTerminal terminal;
    bool input_open = true;
    uint64_t lost_said = 0;
    char buffer[4096];
    for (;;) {
        pollfd fds[2] = {{console.fd(), POLLIN, 0}, {STDIN_FILENO, short(input_open ? POLLIN : 0), 0}};
        if (poll(fds, input_open ? 2 : 1, -1) < 0) {
            if (errno == EINTR) continue;
            return fail(std::string("console: poll: ") + strerror(errno));
        }
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            const ssize_t n = read(console.fd(), buffer, sizeof(buffer));
            if (n == 0) {
                fprintf(stderr, "\r\nxm: domain %s is gone\r\n", name.c_str());
                return 0;
            }
            if (n < 0 && errno != EINTR && errno != EAGAIN)
                return fail(std::string("console: reading its output: ") + strerror(errno));
            if (n > 0 && !write_all(STDOUT_FILENO, buffer, size_t(n))) return 0;  // stdout closed
            const uint64_t lost = console.lost();
            if (lost > lost_said) {
                fprintf(stderr, "\r\nxm: %llu bytes of %s's output were overwritten before they could be shown\r\n",
                        (unsigned long long)(lost - lost_said), name.c_str());
                lost_said = lost;
            }
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
            if (typed && !write_all(console.fd(), buffer, typed)) {
                if (errno == ENOENT) {
                    fprintf(stderr, "\r\nxm: domain %s is gone\r\n", name.c_str());
                    return 0;
                }
                return fail(std::string("console: typing into it: ") + strerror(errno));
            }
            if (escape) return 0;
        }
    }
}

int cmd_console(ControlClient& control, const Args& args) {
    // -q is xm's: nothing to be quiet about here.
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "console", {{"-q", "quiet"}, {"--quiet", "quiet"}}, options, error)) return fail(error);
    hypercall::DomainStatus d;
    if (const int r = one_domain(control, options.rest, "console", d)) return r;
    if (d.id == 0) return fail("console: Domain-0's console is Vireo's own (this one)");
    // What the domain prints from now on, as `xl console` shows it (press Enter for a
    // new prompt); xm create -c shows everything from the start instead.
    return run_console(d.id, domain_name(d), DeviceStream::kFromEnd);
}

}  // namespace xm
