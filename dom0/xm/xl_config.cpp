#include "dom0/xm/xl_config.hpp"

#include <ctype.h>
#include <stdio.h>

#include <vector>

#include "kernel/vm/hypercall_abi.hpp"

namespace xm {

namespace {

constexpr uint64_t kMinMemoryMib = 2;
constexpr uint64_t kMaxMemoryMib = 64ull * 1024;
constexpr uint32_t kMaxVcpus = 8;

struct Value {
    bool is_string = false;
    bool is_list = false;
    std::string text;  // a string's contents, or a number's digits
    std::vector<std::string> items;
};

std::string trim(const std::string& s) {
    size_t a = 0, b = s.size();
    while (a < b && isspace(static_cast<unsigned char>(s[a]))) ++a;
    while (b > a && isspace(static_cast<unsigned char>(s[b - 1]))) --b;
    return s.substr(a, b - a);
}

// A quoted string at s[i] (i at the quote); advances i past it.
bool parse_string(const std::string& s, size_t& i, std::string& out, std::string& why) {
    const char quote = s[i++];
    out.clear();
    while (i < s.size() && s[i] != quote) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        out += s[i++];
    }
    if (i == s.size()) {
        why = "a string without its closing quote";
        return false;
    }
    ++i;
    return true;
}

bool parse_value(const std::string& raw, Value& v, std::string& why) {
    const std::string s = trim(raw);
    if (s.empty()) {
        why = "no value";
        return false;
    }
    size_t i = 0;
    if (s[0] == '"' || s[0] == '\'') {
        v.is_string = true;
        if (!parse_string(s, i, v.text, why)) return false;
    } else if (s[0] == '[') {
        v.is_list = true;
        ++i;
        for (;;) {
            while (i < s.size() && isspace(static_cast<unsigned char>(s[i]))) ++i;
            if (i < s.size() && s[i] == ']') {
                ++i;
                break;
            }
            if (i == s.size() || (s[i] != '"' && s[i] != '\'')) {
                why = "a list holds quoted strings, separated by commas, up to its ]";
                return false;
            }
            std::string item;
            if (!parse_string(s, i, item, why)) return false;
            v.items.push_back(item);
            while (i < s.size() && isspace(static_cast<unsigned char>(s[i]))) ++i;
            if (i < s.size() && s[i] == ',') ++i;
        }
    } else {
        while (i < s.size() && (isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '-')) ++i;
        v.text = s.substr(0, i);
    }
    if (!trim(s.substr(i)).empty()) {
        why = "unexpected text after the value: '" + trim(s.substr(i)) + "'";
        return false;
    }
    return true;
}

bool number(const Value& v, uint64_t low, uint64_t high, uint64_t& out, std::string& why) {
    const std::string& t = v.text;
    bool digits = !v.is_list && !t.empty() && t.size() <= 12;
    for (const char c : t) digits = digits && isdigit(static_cast<unsigned char>(c));
    if (!digits) {
        why = "'" + (v.is_list ? std::string("[...]") : t) + "' is not a number";
        return false;
    }
    out = std::stoull(t);
    if (out < low || out > high) {
        why = t + " is out of range (" + std::to_string(low) + " to " + std::to_string(high) + ")";
        return false;
    }
    return true;
}

bool string(const Value& v, std::string& out, std::string& why) {
    if (!v.is_string) {
        why = "a quoted string is expected";
        return false;
    }
    out = v.text;
    return true;
}

bool end_action(const Value& v, EndAction& out, std::string& why) {
    std::string s;
    if (!string(v, s, why)) return false;
    if (s == "destroy")
        out = EndAction::Destroy;
    else if (s == "restart")
        out = EndAction::Restart;
    else if (s == "preserve")
        out = EndAction::Preserve;
    else {
        why = "'" + s + "' is not one of destroy, restart, preserve";
        return false;
    }
    return true;
}

bool cpuid_mode(const Value& v, CpuidMode& out, std::string& why) {
    std::string s;
    if (!string(v, s, why)) return false;
    if (s == "host")
        out = CpuidMode::Host;
    else if (s == "migratable")
        out = CpuidMode::Migratable;
    else {
        why = "'" + s + "' is not one of host, migratable";
        return false;
    }
    return true;
}

bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 31) return false;
    for (const char c : name)
        if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
    return true;
}

struct Parser {
    XlConfig& out;
    std::string root, extra;
    bool has_cmdline = false;

    bool setting(const std::string& key, const Value& v, std::string& why) {
        uint64_t n = 0;
        if (key == "name") {
            if (!string(v, out.name, why)) return false;
            if (!valid_name(out.name)) {
                why = "'" + out.name + "' is not a domain name (1-31 of letters, digits, - _ .)";
                return false;
            }
        } else if (key == "memory") {
            if (!number(v, kMinMemoryMib, kMaxMemoryMib, out.memory_mib, why)) return false;
        } else if (key == "maxmem") {
            if (!number(v, kMinMemoryMib, kMaxMemoryMib, out.maxmem_mib, why)) return false;
        } else if (key == "vcpus") {
            if (!number(v, 1, kMaxVcpus, n, why)) return false;
            out.vcpus = uint32_t(n);
        } else if (key == "cpus") {
            if (!parse_cpu_list(v.text, out.cpu_mask, why)) return false;
            out.cpus = v.text;
        } else if (key == "cpus_soft") {
            if (!parse_cpu_list(v.text, out.soft_cpu_mask, why)) return false;
            out.cpus_soft = v.text;
        } else if (key == "cpu_weight") {
            if (!number(v, hypercall::kSchedMinWeight, hypercall::kSchedMaxWeight, n, why)) return false;
            out.cpu_weight = uint32_t(n);
        } else if (key == "cap") {
            if (!number(v, 0, 100ull * kMaxVcpus, n, why)) return false;
            out.cap_percent = uint32_t(n);
        } else if (key == "kernel") {
            if (!string(v, out.kernel, why)) return false;
        } else if (key == "ramdisk") {
            if (!string(v, out.ramdisk, why)) return false;
        } else if (key == "cmdline") {
            if (!string(v, out.cmdline, why)) return false;
            has_cmdline = true;
        } else if (key == "root") {
            if (!string(v, root, why)) return false;
        } else if (key == "extra") {
            if (!string(v, extra, why)) return false;
        } else if (key == "on_poweroff") {
            if (!end_action(v, out.on_poweroff, why)) return false;
        } else if (key == "on_reboot") {
            if (!end_action(v, out.on_reboot, why)) return false;
        } else if (key == "on_crash") {
            if (!end_action(v, out.on_crash, why)) return false;
        } else if (key == "cpuid") {
            if (!cpuid_mode(v, out.cpuid, why)) return false;
        } else if (key == "vif") {
            if (!v.is_list) {
                why = "a list of network interfaces is expected: ['bridge=xenbr0,mac=00:16:3e:01:02:03']";
                return false;
            }
            out.vifs.clear();
            for (const std::string& item : v.items) {
                VifSpec vif;
                if (!parse_vif_spec(item, vif, why)) return false;
                out.vifs.push_back(vif);
            }
        } else if (key == "disk") {
            if (!v.is_list) {
                why = "a list of disks is expected: ['target=/path,vdev=xvda,access=rw']";
                return false;
            }
            out.disks.clear();
            for (const std::string& item : v.items) {
                DiskSpec disk;
                if (!parse_disk_spec(item, disk, why)) return false;
                out.disks.push_back(disk);
            }
        } else {
            why = "unknown key '" + key + "'";
            return false;
        }
        return true;
    }

    // One `key = value` statement.
    bool statement(const std::string& text, std::string& why) {
        const size_t eq = text.find('=');
        if (eq == std::string::npos) {
            why = "not a 'key = value' setting";
            return false;
        }
        const std::string key = trim(text.substr(0, eq));
        for (const char c : key)
            if (!isalnum(static_cast<unsigned char>(c)) && c != '_') {
                why = "'" + key + "' is not a key";
                return false;
            }
        Value v;
        if (!parse_value(text.substr(eq + 1), v, why)) {
            why = key + ": " + why;
            return false;
        }
        if (!setting(key, v, why)) {
            if (why.rfind("unknown key", 0) != 0) why = key + ": " + why;
            return false;
        }
        return true;
    }

    bool finish(const std::string& source, std::string& error) {
        if (!has_cmdline && (!root.empty() || !extra.empty()))
            out.cmdline = root.empty() ? extra : "root=" + root + (extra.empty() ? "" : " " + extra);
        const char* missing = out.name.empty()      ? "name"
                              : out.memory_mib == 0 ? "memory"
                              : out.kernel.empty()  ? "kernel"
                                                    : nullptr;
        if (missing) {
            error = source + ": '" + missing + "' is missing";
            return false;
        }
        if (out.cap_percent > 100 * out.vcpus) {
            error = source + ": cap (" + std::to_string(out.cap_percent) +
                    ") is more than 100 per vCPU (vcpus = " + std::to_string(out.vcpus) + ")";
            return false;
        }
        if (out.maxmem_mib && out.maxmem_mib < out.memory_mib) {
            error = source + ": maxmem (" + std::to_string(out.maxmem_mib) + ") is below memory (" +
                    std::to_string(out.memory_mib) + ")";
            return false;
        }
        return true;
    }
};

// Splits a line into statements at `;` outside quotes; strips a `#` comment.
std::vector<std::string> statements(const std::string& line) {
    std::vector<std::string> out;
    std::string current;
    char quote = 0;
    for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quote) {
            if (c == '\\' && i + 1 < line.size()) {
                current += c;
                current += line[++i];
                continue;
            }
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '#') {
            break;
        } else if (c == ';') {
            out.push_back(current);
            current.clear();
            continue;
        }
        current += c;
    }
    out.push_back(current);
    return out;
}

// On the command line a plain word needs no quotes (xm create web.cfg name=web2): a
// value that is not quoted, a list or a number is taken as a string.
std::string quote_bare_word(const std::string& setting) {
    const size_t eq = setting.find('=');
    if (eq == std::string::npos) return setting;
    const std::string value = trim(setting.substr(eq + 1));
    if (value.empty() || value[0] == '"' || value[0] == '\'' || value[0] == '[') return setting;
    bool digits = true;
    for (const char c : value) digits = digits && isdigit(static_cast<unsigned char>(c));
    if (digits) return setting;
    std::string quoted = "\"";
    for (const char c : value) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
    }
    return setting.substr(0, eq + 1) + quoted + "\"";
}

}  // namespace

bool parse_xl_config_with_overrides(const std::string& text, const std::string& source, int override_count,
                                    char* const* overrides, XlConfig& out, std::string& error) {
    out = {};
    Parser p{out, {}, {}, false};
    size_t line_number = 0, start = 0;
    while (start <= text.size()) {
        const size_t end = text.find('\n', start);
        const std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        ++line_number;
        for (const std::string& s : statements(line)) {
            if (trim(s).empty()) continue;
            std::string why;
            if (!p.statement(s, why)) {
                error = source;
                error += ":" + std::to_string(line_number) + ": " + why;
                return false;
            }
        }
        if (end == std::string::npos) break;
        start = end + 1;
    }
    for (int i = 0; i < override_count; ++i) {
        std::string why;
        if (!p.statement(quote_bare_word(overrides[i]), why)) {
            error = std::string("command line '") + overrides[i] + "': " + why;
            return false;
        }
    }
    return p.finish(source, error);
}

bool parse_xl_config(const std::string& text, const std::string& source, XlConfig& out, std::string& error) {
    return parse_xl_config_with_overrides(text, source, 0, nullptr, out, error);
}

const char* end_action_name(EndAction action) {
    switch (action) {
        case EndAction::Destroy: return "destroy";
        case EndAction::Restart: return "restart";
        case EndAction::Preserve: return "preserve";
    }
    return "?";
}

const char* cpuid_mode_name(CpuidMode mode) { return mode == CpuidMode::Migratable ? "migratable" : "host"; }

bool parse_disk_spec(const std::string& text, DiskSpec& out, std::string& error) {
    out = DiskSpec{};
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        const size_t comma = text.find(',', start);
        parts.push_back(trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    auto bad = [&](const std::string& why) {
        error = "disk '" + text + "': " + why;
        return false;
    };
    auto set_access = [&](const std::string& a) {
        if (a == "rw" || a == "w") {
            out.read_only = false;
        } else if (a == "ro" || a == "r") {
            out.read_only = true;
        } else {
            return false;
        }
        return true;
    };
    const bool keyed = parts[0].find('=') != std::string::npos;
    if (keyed) {
        for (const std::string& p : parts) {
            const size_t eq = p.find('=');
            if (eq == std::string::npos)
                return bad("'" + p + "' is not KEY=VALUE (keys: target, format, vdev, access)");
            const std::string key = trim(p.substr(0, eq)), value = trim(p.substr(eq + 1));
            if (key == "target") {
                out.target = value;
            } else if (key == "format") {
                out.format = value;
            } else if (key == "vdev") {
                out.vdev = value;
            } else if (key == "access") {
                if (!set_access(value)) return bad("access '" + value + "' is not one of rw, ro");
            } else if (key == "devtype" || key == "backendtype") {
                // xl's: a virtio disk either way.
            } else {
                return bad("unknown key '" + key + "' (keys: target, format, vdev, access)");
            }
        }
    } else {
        if (parts.size() != 3) return bad("expected 'target=PATH,vdev=NAME,access=rw' or 'file:PATH,NAME,w'");
        std::string target = parts[0];
        const size_t colon = target.find(':');
        if (colon != std::string::npos && target[0] != '/') {
            const std::string prefix = target.substr(0, colon);
            target = target.substr(colon + 1);
            if (prefix == "qcow2")
                out.format = "qcow2";
            else if (prefix != "file" && prefix != "phy" && prefix != "raw" && prefix != "aio" && prefix != "tap")
                return bad("'" + prefix + ":' is not a disk type (file, phy, raw, qcow2)");
        }
        out.target = target;
        out.vdev = parts[1];
        if (!set_access(parts[2])) return bad("access '" + parts[2] + "' is not one of w, r");
    }
    if (out.target.empty() || out.target[0] != '/') return bad("the target must be an absolute path in Domain-0");
    if (out.format != "raw" && out.format != "qcow2") return bad("format '" + out.format + "' is not raw or qcow2");
    return true;
}

bool parse_vif_spec(const std::string& text, VifSpec& out, std::string& error) {
    out = VifSpec{};
    auto bad = [&](const std::string& why) {
        error = "vif '" + text + "': " + why;
        return false;
    };
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        const std::string p = trim(text.substr(start, comma - start));
        start = comma + 1;
        if (p.empty()) continue;
        const size_t eq = p.find('=');
        if (eq == std::string::npos) return bad("'" + p + "' is not KEY=VALUE (keys: bridge, mac)");
        const std::string key = trim(p.substr(0, eq)), value = trim(p.substr(eq + 1));
        if (key == "bridge") {
            if (value.empty() || value.size() > 15) return bad("'" + value + "' is not a bridge name");
            out.bridge = value;
        } else if (key == "mac") {
            unsigned b[6];
            char end;
            if (sscanf(value.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) !=
                    6 ||
                value.size() != 17)
                return bad("mac '" + value + "' is not six hexadecimal bytes such as 00:16:3e:01:02:03");
            if (b[0] & 1) return bad("mac '" + value + "' is a multicast address");
            for (int i = 0; i < 6; ++i) out.mac[i] = uint8_t(b[i]);
            out.has_mac = true;
        } else if (key == "type" || key == "model") {
            // xl's: every NIC is a virtio one here.
        } else {
            return bad("unknown key '" + key + "' (keys: bridge, mac)");
        }
    }
    return true;
}

bool parse_cpu_list(const std::string& text, uint64_t& mask, std::string& error) {
    constexpr unsigned kMaxCpu = 63;
    mask = 0;
    if (text == "all") {
        mask = ~0ull;
        return true;
    }
    auto bad = [&](const std::string& why) {
        error = "'" + text + "' is not a CPU list such as \"0-3,5\": " + why;
        return false;
    };
    if (text.empty()) return bad("it is empty");
    size_t at = 0;
    while (at <= text.size()) {
        const size_t comma = text.find(',', at);
        std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        const bool remove = !item.empty() && item[0] == '^';
        if (remove) item.erase(0, 1);
        const size_t dash = item.find('-');
        const std::string first = item.substr(0, dash);
        const std::string last = dash == std::string::npos ? first : item.substr(dash + 1);
        auto cpu = [&](const std::string& s, unsigned& out) {
            if (s.empty() || s.size() > 3) return false;
            for (const char c : s)
                if (!isdigit(static_cast<unsigned char>(c))) return false;
            out = unsigned(std::stoul(s));
            return out <= kMaxCpu;
        };
        unsigned lo = 0, hi = 0;
        if (!cpu(first, lo) || !cpu(last, hi)) return bad("'" + item + "' is not a CPU (0-63) or a range of them");
        if (lo > hi) return bad("the range '" + item + "' runs backwards");
        for (unsigned c = lo; c <= hi; ++c) {
            if (remove)
                mask &= ~(1ull << c);
            else
                mask |= 1ull << c;
        }
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    if (!mask) return bad("it names no CPU");
    return true;
}

}  // namespace xm
