#include "dom0/devmodel/control_protocol.hpp"

#include <string>

namespace devmodel::control {

namespace {

// Printable ASCII stays; line breaks become spaces and other bytes '?', so that a reason
// or an echoed command never ends the reply line early.
std::string one_line(std::string_view text, size_t max) {
    std::string out;
    for (const char c : text.substr(0, max)) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : u < 0x20 || u >= 0x7f ? '?' : c);
    }
    return out;
}

// Decimal digits only (no sign, no spaces, as "ok <length>" has them), up to `max`.
std::optional<size_t> parse_length(std::string_view text, size_t max) {
    if (text.empty() || text.size() > 20) return std::nullopt;
    uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + uint64_t(c - '0');
        if (value > max) return std::nullopt;
    }
    return size_t(value);
}

}  // namespace

std::string socket_path(uint32_t domain) {
    return std::string(kSocketDirectory) + "/dm-" + std::to_string(domain) + ".sock";
}

Command parse_command(std::string_view line) {
    if (line == "save") return Command::kSave;
    if (line == "continue") return Command::kContinue;
    if (line.substr(0, 7) == "rename ") {
        const std::string_view name = rename_argument(line);
        const bool valid =
            !name.empty() && name.size() <= 31 &&
            name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
                std::string_view::npos;
        if (valid) return Command::kRename;
    }
    return Command::kUnknown;
}

std::string_view rename_argument(std::string_view line) { return line.substr(0, 7) == "rename " ? line.substr(7) : ""; }

std::string ok_reply() { return "ok\n"; }

std::string ok_reply(size_t length) { return "ok " + std::to_string(length) + "\n"; }

std::string error_reply(std::string_view why) {
    constexpr std::string_view kPrefix = "error ";
    return std::string(kPrefix) + one_line(why, kMaxReplyLine - kPrefix.size()) + "\n";
}

std::string unknown_command_reply(std::string_view line) {
    return error_reply("unknown command '" + one_line(line, kMaxCommandLine) + "'");
}

Reply parse_reply(std::string_view line) {
    Reply reply;
    if (line == "ok") {
        reply.kind = Reply::Kind::kOk;
    } else if (line.substr(0, 3) == "ok ") {
        reply.length = parse_length(line.substr(3), kMaxState);
        if (reply.length) reply.kind = Reply::Kind::kOk;
    } else if (line == "error" || line.substr(0, 6) == "error ") {
        reply.kind = Reply::Kind::kError;
        reply.why = std::string(line.substr(line.size() > 6 ? 6 : line.size()));
    }
    return reply;
}

std::optional<std::string> LineBuffer::next_line() {
    const size_t end = pending_.find('\n');
    if (end == std::string::npos || overflowed()) return std::nullopt;
    std::string line = pending_.substr(0, end);
    pending_.erase(0, end + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

bool LineBuffer::overflowed() const {
    const size_t end = pending_.find('\n');
    const size_t line = end == std::string::npos ? pending_.size() : end;
    // A '\r' just before the '\n' is not part of the line.
    const bool cr = end != std::string::npos && end > 0 && pending_[end - 1] == '\r';
    return line - (cr ? 1 : 0) > max_line_;
}

std::string LineBuffer::take_rest() {
    std::string rest;
    rest.swap(pending_);
    return rest;
}

void ReplyReader::feed(const uint8_t* data, size_t len) {
    if (malformed_) return;
    if (have_line_) {
        take_blob(data, len);
        return;
    }
    line_.append(reinterpret_cast<const char*>(data), len);
    if (line_.overflowed()) {
        malformed_ = true;
        return;
    }
    const std::optional<std::string> line = line_.next_line();
    if (!line) return;
    have_line_ = true;
    reply_ = parse_reply(*line);
    if (reply_.kind == Reply::Kind::kMalformed) {
        malformed_ = true;
        return;
    }
    const std::string rest = line_.take_rest();
    take_blob(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
}

void ReplyReader::take_blob(const uint8_t* data, size_t len) {
    const size_t wanted = reply_.length.value_or(0);
    if (len > wanted - blob_.size()) {
        malformed_ = true;
        return;
    }
    blob_.insert(blob_.end(), data, data + len);
    complete_ = blob_.size() == wanted;
}

}  // namespace devmodel::control
