// The control socket between xm and a running vireo-dm (docs/save-format.md, "Getting
// the blob from a running vireo-dm"): where it is, and how its commands and replies are
// framed. Pure code, shared by vireo-dm (control_socket.hpp) and xm
// (dom0/xm/device_model_control.hpp), host-tested in
// tests/unit/devmodel_control_protocol_test.cpp.
//
// A client sends command lines ending in '\n' (a '\r' before it is ignored); each gets
// one reply line, "ok\n", "ok <length>\n" followed by exactly <length> bytes (the blob
// stays binary), or "error <why>\n".
//
//   save        -> ok <length>\n<blob> | error <why>\n
//   continue    -> ok\n
//   rename NAME -> ok\n | error <why>\n   (the domain is NAME now: its console link
//                  follows; NAME is a domain name, 1-31 of letters, digits, - _ .)
//   other     -> error unknown command '<other>'\n
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace devmodel::control {

inline constexpr const char* kSocketDirectory = "/run/vireo";
// /run/vireo/dm-<domid>.sock: xm finds a domain's device model by the domain's ID.
std::string socket_path(uint32_t domain);

// The longest command line and reply line taken (without the '\n'): a peer that sends a
// longer one does not speak this protocol.
inline constexpr size_t kMaxCommandLine = 256;
inline constexpr size_t kMaxReplyLine = 4096;
// The largest state blob a reply carries: the save image's limit for its devices section
// (docs/save-format.md, section 7).
inline constexpr size_t kMaxState = size_t(1) << 20;

enum class Command { kSave, kContinue, kRename, kUnknown };
Command parse_command(std::string_view line);
// The NAME of a `rename NAME` line.
std::string_view rename_argument(std::string_view line);

std::string ok_reply();
std::string ok_reply(size_t length);
// `why` on one line (line breaks become spaces, control bytes '?') and within
// kMaxReplyLine.
std::string error_reply(std::string_view why);
std::string unknown_command_reply(std::string_view line);

// A reply line as the client reads it.
struct Reply {
    enum class Kind { kOk, kError, kMalformed };
    Kind kind = Kind::kMalformed;
    std::optional<size_t> length;  // "ok <length>"
    std::string why;               // "error <why>"
};
Reply parse_reply(std::string_view line);

// Bytes as a stream socket gives them, cut into lines.
class LineBuffer {
public:
    explicit LineBuffer(size_t max_line) : max_line_(max_line) {}
    void append(const char* data, size_t len) { pending_.append(data, len); }
    // The next whole line, without its '\n' (and a '\r' before it).
    std::optional<std::string> next_line();
    // More than max_line bytes came without a '\n'.
    bool overflowed() const;
    // The bytes after the last line taken.
    std::string take_rest();

private:
    size_t max_line_;
    std::string pending_;
};

// A whole reply as the client receives it: the line, then the blob an "ok <length>"
// announced. Malformed when the line is not a reply, is too long, announces more than
// kMaxState, or more bytes come than it announced.
class ReplyReader {
public:
    void feed(const uint8_t* data, size_t len);
    bool complete() const { return complete_; }
    bool malformed() const { return malformed_; }
    const Reply& reply() const { return reply_; }
    std::vector<uint8_t>& blob() { return blob_; }

private:
    void take_blob(const uint8_t* data, size_t len);

    LineBuffer line_{kMaxReplyLine};
    bool have_line_ = false;
    bool complete_ = false;
    bool malformed_ = false;
    Reply reply_;
    std::vector<uint8_t> blob_;
};

}  // namespace devmodel::control
