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
// went out (it writes faster than the link carries).
inline constexpr uint32_t kMaxRounds = 30;
inline constexpr uint64_t kStopPages = 256;
inline constexpr uint64_t kMaxSentFactor = 3;
// Whether to stop after round `round` (1 the first, which sent all of RAM), with `dirty`
// pages written since it and `sent` pages sent so far, of a domain of `ram_pages`.
bool precopy_done(uint32_t round, uint64_t dirty, uint64_t sent, uint64_t ram_pages);

}  // namespace xm::migration
