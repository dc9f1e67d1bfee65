#include "dom0/xm/migration_protocol.hpp"

#include <stdlib.h>

namespace xm::migration {

std::string error_reason(const std::string& line) {
    const std::string prefix = kErrorPrefix;
    if (line.compare(0, prefix.size(), prefix) == 0) return line.substr(prefix.size());
    return "it answered '" + line + "'";
}

std::string suffixed_name(const std::string& name, const std::string& suffix) {
    constexpr size_t kNameMax = 31;
    const size_t keep = suffix.size() >= kNameMax ? 0 : kNameMax - suffix.size();
    return name.substr(0, keep) + suffix;
}

bool parse_port(const std::string& text, uint16_t& port) {
    if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) return false;
    const unsigned long value = strtoul(text.c_str(), nullptr, 10);
    if (value == 0 || value > 65535) return false;
    port = uint16_t(value);
    return true;
}

bool parse_destination(const std::string& spec, std::string& host, uint16_t& port, std::string& error) {
    port = kDefaultPort;
    std::string rest;
    if (!spec.empty() && spec[0] == '[') {
        const size_t close = spec.find(']');
        if (close == std::string::npos || close == 1) {
            error = "'" + spec + "' is not a host: an IPv6 address goes in brackets, as [::1]:8002";
            return false;
        }
        host = spec.substr(1, close - 1);
        rest = spec.substr(close + 1);
        if (!rest.empty() && rest[0] != ':') {
            error = "'" + spec + "' is not a host: after ] comes :PORT or nothing";
            return false;
        }
    } else {
        const size_t colon = spec.find(':');
        if (colon != std::string::npos && spec.find(':', colon + 1) != std::string::npos) {
            error = "'" + spec + "' is not a host: an IPv6 address goes in brackets, as [::1]:8002";
            return false;
        }
        host = spec.substr(0, colon);
        if (colon != std::string::npos) rest = spec.substr(colon);
    }
    if (host.empty()) {
        error = "'" + spec + "' names no host";
        return false;
    }
    if (!rest.empty() && !parse_port(rest.substr(1), port)) {
        error = "'" + rest.substr(1) + "' is not a port (1-65535)";
        return false;
    }
    return true;
}

const char* Precopy::stop_after(uint32_t round, uint64_t dirty, uint64_t sent) {
    if (dirty <= kStopPages) return "few pages left";
    if (round >= kMaxRounds) return "the last round";
    if (sent >= kMaxSentFactor * ram_pages_) return "it writes faster than the link carries";
    if (dirty < fewest_) {
        fewest_ = dirty;
        stalled_ = 0;
        return nullptr;
    }
    return ++stalled_ >= kStalledRounds ? "its writes no longer shrink" : nullptr;
}

}  // namespace xm::migration
