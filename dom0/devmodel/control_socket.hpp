// vireo-dm's end of its control socket (control_protocol.hpp): a unix stream socket
// (unix(7)) at a path xm derives from the domain's ID, serving one client at a time; the
// next waits in the listen backlog until the current one leaves.
//
// The socket is made mode 0600 (Domain-0's root only: it hands out the domain's device
// state) in its directory (made 0755 if missing), replacing a socket a killed vireo-dm
// left behind. It is removed when this object is destroyed, and on SIGTERM, SIGINT and
// SIGHUP before the handler that was installed earlier (ConsoleLink's) runs; only while
// the path is still this socket, so that a late exit never removes a newer one's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dom0/devmodel/control_protocol.hpp"

namespace devmodel::control {

class ControlSocket {
public:
    ControlSocket() = default;
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;
    ~ControlSocket();

    // False with `error` in a user's words. One listening socket per process.
    bool listen(const std::string& path, std::string& error);

    // What to poll for POLLIN: the listening socket while no client is connected, the
    // client's otherwise; -1 before listen().
    int fd() const { return client_ >= 0 ? client_ : listener_; }
    // After poll found fd() readable: accepts a client, or reads what it sent. The
    // command lines that are now whole, in order. A client that closed its end, or sent
    // a line longer than kMaxCommandLine (it is told so, and nothing it sent is done), is
    // let go.
    std::vector<std::string> take_commands();
    // Sends one reply to the client. A client that does not take it within a few seconds
    // (vireo-dm serves its domain meanwhile) is let go.
    void reply(const std::vector<uint8_t>& bytes);

private:
    void drop_client();

    int listener_ = -1;
    int client_ = -1;
    LineBuffer input_{kMaxCommandLine};
};

}  // namespace devmodel::control
