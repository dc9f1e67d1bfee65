#include "dom0/xm/migration_link.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace xm {

namespace {

// An IPv4 or IPv6 address (or localhost) as a socket address; false for a name.
bool socket_address(const std::string& host, uint16_t port, sockaddr_storage& out, socklen_t& length) {
    memset(&out, 0, sizeof(out));
    const std::string numeric = host == "localhost" ? "127.0.0.1" : host;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    if (inet_pton(AF_INET, numeric.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        length = sizeof(*v4);
        return true;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (inet_pton(AF_INET6, numeric.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        length = sizeof(*v6);
        return true;
    }
    return false;
}

// A migration sends megabytes in sections and then waits for a line: no Nagle delay. A
// peer that stops answering (its host hung, the cable pulled) ends a read or a write
// after 10 minutes instead of holding the domain for ever: xm holds SIGINT meanwhile.
void tune(int fd) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval limit{};
    limit.tv_sec = 600;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
}

}  // namespace

int connect_tcp(const std::string& host, uint16_t port, std::string& error) {
    sockaddr_storage address;
    socklen_t length;
    const std::string where = host + ":" + std::to_string(port);
    if (!socket_address(host, port, address, length)) {
        error = "'" + host + "' is not an IP address (xm resolves no host names)";
        return -1;
    }
    const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("cannot make a socket: ") + strerror(errno);
        return -1;
    }
    int r;
    do r = connect(fd, reinterpret_cast<sockaddr*>(&address), length);
    while (r != 0 && errno == EINTR);
    if (r != 0) {
        error = "cannot reach " + where + ": " + strerror(errno) +
                (errno == ECONNREFUSED ? " (is xm migrate-receive running there?)" : "");
        close(fd);
        return -1;
    }
    tune(fd);
    return fd;
}

int listen_tcp(uint16_t port, std::string& error) {
    const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("cannot make a socket: ") + strerror(errno);
        return -1;
    }
    const int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));  // IPv4 peers too
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_any;
    address.sin6_port = htons(port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(fd, 1) != 0) {
        error = "cannot listen on port " + std::to_string(port) + ": " + strerror(errno);
        close(fd);
        return -1;
    }
    return fd;
}

int accept_tcp(int listener, std::string& peer, std::string& error) {
    sockaddr_in6 address{};
    socklen_t length = sizeof(address);
    int fd;
    do fd = accept4(listener, reinterpret_cast<sockaddr*>(&address), &length, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        error = std::string("accepting a connection failed: ") + strerror(errno);
        return -1;
    }
    char text[INET6_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET6, &address.sin6_addr, text, sizeof(text));
    peer = text;
    if (peer.rfind("::ffff:", 0) == 0) peer = peer.substr(7);  // an IPv4 peer
    tune(fd);
    return fd;
}

bool canonical_address(const std::string& text, std::string& out) {
    sockaddr_storage address;
    socklen_t length;
    std::string host = text;
    if (host.rfind("::ffff:", 0) == 0 && host.find('.') != std::string::npos) host = host.substr(7);
    if (!socket_address(host, 0, address, length)) return false;
    char buffer[INET6_ADDRSTRLEN] = {};
    const void* raw = address.ss_family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&address)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&address)->sin6_addr);
    if (!inet_ntop(address.ss_family, raw, buffer, sizeof(buffer))) return false;
    out = buffer;
    return true;
}

bool send_line(int fd, const std::string& text) {
    const std::string line = text + "\n";
    for (size_t done = 0; done < line.size();) {
        const ssize_t n = write(fd, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += size_t(n);
    }
    return true;
}

bool read_line(int fd, std::string& line) {
    line.clear();
    for (;;) {
        char c;
        ssize_t n;
        do n = read(fd, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) return false;
        if (c == '\n') return true;
        if (line.size() == 1024) return false;
        line += c;
    }
}

}  // namespace xm
