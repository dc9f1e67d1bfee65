// What xm migrate and xm migrate-receive agree on (docs/save-format.md, "Migration"):
// the save image's sections over TCP, then a handshake of text lines, so that at every
// moment exactly one of the two hosts may run the domain:
//   receiver: "ready"   the domain is made there, paused, as NAME--incoming
//   sender:   "go"      its own copy is paused and renamed NAME--migratedaway
//   receiver: "done"    renamed NAME and running; the sender destroys its copy
// Either side may answer "error: WHY" instead, and the sender's domain runs on where it
// was. Pure code, host-tested (tests/unit/migration_protocol_test.cpp).
#pragma once

#include <stdint.h>

#include <string>

namespace xm::migration {

// xend's relocation port, which xm migrate has always used.
inline constexpr uint16_t kDefaultPort = 8002;

inline constexpr char kReady[] = "ready";
inline constexpr char kGo[] = "go";
inline constexpr char kDone[] = "done";
inline constexpr char kErrorPrefix[] = "error: ";
inline constexpr char kIncomingSuffix[] = "--incoming";
inline constexpr char kAwaySuffix[] = "--migratedaway";

// The reason in an "error: WHY" line, or "it answered 'LINE'" for any other line.
std::string error_reason(const std::string& line);

// NAME with `suffix`, NAME cut short so that both fit a domain's name (31 characters).
std::string suffixed_name(const std::string& name, const std::string& suffix);

// HOST or HOST:PORT (an IPv6 address in brackets: [::1]:8002); the port is kDefaultPort
// when none is given. False with `error` for anything else.
bool parse_destination(const std::string& spec, std::string& host, uint16_t& port, std::string& error);
// A port number (1-65535); false for anything else.
bool parse_port(const std::string& text, uint16_t& port);

// Pre-copy's rounds (as Xen's): each sends the pages written since the one before, while
// the domain runs; they stop once few enough are left to send with the domain paused
// (at most kStopPages), or after kMaxRounds, or once kMaxSentFactor times the domain's RAM
// went out (it writes faster than the link carries), or once the pages written per round
// stop shrinking: kStalledRounds rounds in a row none fewer than the fewest before (the
// domain rewrites a steady set as fast as a round sends it, and more rounds would not
// make the pause shorter; a slow link, or Bochs, where a round of 2 MiB takes seconds).
inline constexpr uint32_t kMaxRounds = 30;
inline constexpr uint64_t kStopPages = 256;
inline constexpr uint64_t kMaxSentFactor = 3;
inline constexpr uint32_t kStalledRounds = 2;
class Precopy {
public:
    explicit Precopy(uint64_t ram_pages) : ram_pages_(ram_pages) {}
    // After round `round` (1 the first, which sent all of RAM), with `dirty` pages written
    // since it and `sent` pages sent so far: why to stop now (for the user), or null for
    // another round. Called once per round, in order.
    const char* stop_after(uint32_t round, uint64_t dirty, uint64_t sent);

private:
    uint64_t ram_pages_;
    uint64_t fewest_ = UINT64_MAX;
    uint32_t stalled_ = 0;
};

}  // namespace xm::migration
