#include "dom0/devmodel/control_socket.hpp"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <iterator>
#include <optional>
#include <utility>

#include "dom0/common/device_model_holdings.hpp"

namespace devmodel::control {

namespace {

// How long a reply may wait for a client to read it.
constexpr time_t kSendTimeoutSeconds = 10;
// Clients waiting while another is served.
constexpr int kBacklog = 4;

// What the signal handler needs, in static storage: it may call only async-signal-safe
// functions (signal-safety(7) lists lstat, unlink, signal and raise).
char g_path[sizeof(sockaddr_un::sun_path)];
dev_t g_device = 0;
ino_t g_inode = 0;
constexpr int kSignals[] = {SIGTERM, SIGINT, SIGHUP};
struct sigaction g_previous[std::size(kSignals)];
bool g_handlers_installed = false;

void remove_socket_file() {
    if (g_path[0] == 0) return;
    struct stat now {};
    if (lstat(g_path, &now) == 0 && S_ISSOCK(now.st_mode) && now.st_dev == g_device && now.st_ino == g_inode)
        unlink(g_path);
    g_path[0] = 0;
}

void on_signal(int signal_number) {
    remove_socket_file();
    for (size_t i = 0; i < std::size(kSignals); ++i) {
        const struct sigaction& previous = g_previous[i];
        if (kSignals[i] != signal_number || (previous.sa_flags & SA_SIGINFO) != 0) continue;
        if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
            previous.sa_handler(signal_number);
            return;
        }
    }
    // Ends as the signal would have ended it.
    ::signal(signal_number, SIG_DFL);
    raise(signal_number);
}

void install_handlers() {
    if (g_handlers_installed) return;
    g_handlers_installed = true;
    for (size_t i = 0; i < std::size(kSignals); ++i) {
        struct sigaction ours {};
        ours.sa_handler = on_signal;
        sigemptyset(&ours.sa_mask);
        ours.sa_flags = SA_RESTART;
        sigaction(kSignals[i], nullptr, &g_previous[i]);
        // A signal the process ignores stays ignored.
        if (g_previous[i].sa_handler != SIG_IGN) sigaction(kSignals[i], &ours, nullptr);
    }
}

// Each missing directory on the way, 0755 whatever the umask (/run/vireo is also where
// the console links are, which other users may read).
void make_directories(const std::string& path) {
    for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        const std::string directory = path.substr(0, slash);
        if (mkdir(directory.c_str(), 0755) == 0) chmod(directory.c_str(), 0755);
    }
}

}  // namespace

ControlSocket::~ControlSocket() {
    drop_client();
    if (listener_ >= 0) {
        remove_socket_file();
        close(listener_);
    }
}

bool ControlSocket::listen(const std::string& path, std::string& error) {
    sockaddr_un address{};
    if (path.size() >= sizeof(address.sun_path)) {
        error = path + ": name too long for a unix socket";
        return false;
    }
    make_directories(path);
    struct stat old {};
    if (lstat(path.c_str(), &old) == 0) {
        // A socket left by a vireo-dm that was killed outright; anything else is not ours.
        if (!S_ISSOCK(old.st_mode)) {
            error = path + ": exists and is not a socket";
            return false;
        }
        unlink(path.c_str());
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("control socket: ") + strerror(errno);
        return false;
    }
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, path.data(), path.size());
    // The socket file takes its mode from the umask (unix(7)): 0600 from the start, with
    // no moment in which another user could connect.
    const mode_t mask = umask(0177);
    const int bound = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    umask(mask);
    struct stat made {};
    if (bound != 0 || ::listen(fd, kBacklog) != 0 || lstat(path.c_str(), &made) != 0) {
        error = path + ": " + strerror(errno);
        if (bound == 0) unlink(path.c_str());
        close(fd);
        return false;
    }
    listener_ = fd;
    snprintf(g_path, sizeof(g_path), "%s", path.c_str());
    g_device = made.st_dev;
    g_inode = made.st_ino;
    install_handlers();
    dom0::holdings_note({dom0::Holding::Kind::Socket, path, "", 0});
    return true;
}

std::vector<std::string> ControlSocket::take_commands() {
    std::vector<std::string> lines;
    if (client_ < 0) {
        client_ = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        const timeval timeout{kSendTimeoutSeconds, 0};
        if (client_ >= 0) setsockopt(client_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
        return lines;
    }
    char buffer[512];
    const ssize_t n = recv(client_, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return lines;
    if (n <= 0) {
        drop_client();
        return lines;
    }
    input_.append(buffer, size_t(n));
    while (std::optional<std::string> line = input_.next_line()) lines.push_back(std::move(*line));
    if (input_.overflowed()) {
        // Not this protocol's client: none of what it sent is done.
        const std::string why = error_reply("command too long");
        reply({why.begin(), why.end()});
        drop_client();
        lines.clear();
    }
    return lines;
}

void ControlSocket::reply(const std::vector<uint8_t>& bytes) {
    size_t sent = 0;
    while (client_ >= 0 && sent < bytes.size()) {
        const ssize_t n = send(client_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            drop_client();
            return;
        }
        sent += size_t(n);
    }
}

void ControlSocket::drop_client() {
    if (client_ >= 0) close(client_);
    client_ = -1;
    input_ = LineBuffer(kMaxCommandLine);
}

}  // namespace devmodel::control
