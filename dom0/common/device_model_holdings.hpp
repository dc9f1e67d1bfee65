// What a device model (vireo-dm) holds outside its own process, written down as it takes
// each thing, so that whoever finds it dead can let go of them: a SIGKILL runs none of its
// handlers and destructors, and would leave its qcow2 image's NBD device connected (with
// qemu-nbd serving it), its console link and its control socket behind.
//
// The record is /run/vireo/dm-ID.holds, one line per holding:
//   pid PID                 the device model itself
//   nbd DEVICE SERVER       /dev/nbdN, connected, served by qemu-nbd's process SERVER
//   link PATH TARGET        a symbolic link PATH -> TARGET (its console's pty)
//   socket PATH             a unix socket's file (its control socket)
// vireo-dm removes it at its clean end, having let go of all of them itself. xm reads it
// (release_orphaned_holdings): once that pid is gone, it disconnects the NBD device if
// the same server still serves it, and removes the link if it still points at the target
// and the socket file.
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace dom0 {

struct Holding {
    enum class Kind { Nbd, Link, Socket };
    Kind kind;
    std::string path;    // the device, link or socket file
    std::string target;  // a link's target
    pid_t server = 0;    // an NBD device's server
};

struct HoldingsRecord {
    pid_t owner = 0;
    std::vector<Holding> holdings;
    std::vector<std::string> bad_lines;  // what could not be read, said, not acted on
};

// The record's text read into holdings (pure: host-tested).
HoldingsRecord parse_holdings(const std::string& text);
// One line of the record.
std::string holding_line(const Holding& h);

// The record's file for domain ID.
std::string holdings_path(uint32_t domain);

// vireo-dm's side: begin writes the pid line (false with a sentence in `error`); note
// adds a line (a record never begun takes nothing: host tests); end removes the file.
bool holdings_begin(uint32_t domain, std::string& error);
void holdings_note(const Holding& h);
void holdings_end();

// The OS actions the release takes, behind an interface so that it is host-tested.
class HoldingsSystem {
public:
    virtual ~HoldingsSystem() = default;
    virtual bool alive(pid_t pid) = 0;
    virtual bool read_file(const std::string& path, std::string& text) = 0;
    virtual void remove_file(const std::string& path) = 0;
    // The server the NBD device shows now (0: none).
    virtual pid_t nbd_server(const std::string& device) = 0;
    // Asks the NBD device to disconnect (its server then flushes the image and exits).
    virtual bool nbd_disconnect(const std::string& device, std::string& error) = 0;
    virtual bool link_target(const std::string& path, std::string& target) = 0;
    virtual bool is_socket(const std::string& path) = 0;
};
// Linux's.
HoldingsSystem& host_holdings_system();
// The pid the nbd driver shows for NBD device DEVICE (/dev/nbdN): the thread of the
// server that serves it, or 0 when it is free.
pid_t nbd_device_server(const std::string& device);

// xm's side: when domain ID's device model is gone, lets go of what its record holds and
// removes the record; a sentence per thing released, or none (no record, or its device
// model still runs).
std::vector<std::string> release_orphaned_holdings(uint32_t domain, HoldingsSystem& system = host_holdings_system());

}  // namespace dom0
