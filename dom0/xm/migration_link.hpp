// The TCP connection of a migration (xm migrate, xm migrate-receive): opened, accepted,
// and the handshake's text lines (migration_protocol.hpp) sent and read on it. Hosts
// are IP addresses (or "localhost"): Domain-0's static xm has no name resolver.
#pragma once

#include <stdint.h>

#include <string>

namespace xm {

// A connection to host:port; -1 with `error` in a user's words.
int connect_tcp(const std::string& host, uint16_t port, std::string& error);
// A socket listening on every address at `port`; -1 with `error`.
int listen_tcp(uint16_t port, std::string& error);
// The next connection on `listener`, with the peer's address in `peer`; -1 with `error`.
int accept_tcp(int listener, std::string& peer, std::string& error);

// An IP address in its one canonical spelling (an IPv4 peer of an IPv6 socket as IPv4,
// "localhost" as 127.0.0.1); false for anything that is not an address.
bool canonical_address(const std::string& text, std::string& out);

// One line (`text` and "\n"); false when the connection is gone.
bool send_line(int fd, const std::string& text);
// One line without its "\n", of at most 1 KiB; false when the connection ends first.
bool read_line(int fd, std::string& line);

}  // namespace xm
