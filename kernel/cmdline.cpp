#include "kernel/cmdline.hpp"

#include <stdio.h>
#include <string.h>

namespace {

struct Token {
    const char* key;
    usize key_len;
    const char* value;  // null when the token has no '='
    usize value_len;
};

bool equals(const char* s, usize len, const char* literal) {
    return strlen(literal) == len && memcmp(s, literal, len) == 0;
}

// Accepts decimal or 0x-prefixed hexadecimal; rejects empty strings, junk and overflow.
bool parse_u64(const char* s, usize len, u64& out) {
    if (len == 0) return false;
    u64 base = 10;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        len -= 2;
    }
    u64 value = 0;
    for (usize i = 0; i < len; ++i) {
        u64 digit;
        const char c = s[i];
        if (c >= '0' && c <= '9')
            digit = u64(c) - u64('0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            digit = u64(c) - u64('a') + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            digit = u64(c) - u64('A') + 10;
        else
            return false;
        if (value > (~0ull - digit) / base) return false;
        value = value * base + digit;
    }
    out = value;
    return true;
}

void report(CmdlineDiagnostics& d, const Token& t, const char* why) {
    if (d.count == CmdlineDiagnostics::kMax) {
        d.overflowed = true;
        return;
    }
    const int key_len = int(t.key_len > 40 ? 40 : t.key_len);
    snprintf(d.messages[d.count++], CmdlineDiagnostics::kLength, "command line: '%.*s%s%.*s': %s", key_len, t.key,
             t.value ? "=" : "", int(t.value ? (t.value_len > 40 ? 40 : t.value_len) : 0), t.value ? t.value : "", why);
}

// A key whose value is one of two words: `flag` becomes true for `when_true`, false for
// `when_false`; any other value (or none) is reported and leaves it as it was.
void apply_either(const Token& t, CmdlineDiagnostics& d, const char* when_true, const char* when_false, bool& flag,
                  const char* why) {
    if (t.value && equals(t.value, t.value_len, when_true))
        flag = true;
    else if (t.value && equals(t.value, t.value_len, when_false))
        flag = false;
    else
        report(d, t, why);
}

void apply(const Token& t, HypervisorOptions& o, CmdlineDiagnostics& d) {
    if (equals(t.key, t.key_len, "console")) {
        static const u16 kComPorts[] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};
        u64 port = 0;
        if (t.value && t.value_len == 4 && memcmp(t.value, "com", 3) == 0 && t.value[3] >= '1' && t.value[3] <= '4') {
            o.console_port = kComPorts[t.value[3] - '1'];
        } else if (t.value && parse_u64(t.value, t.value_len, port) && port > 0 && port <= 0xfff8) {
            o.console_port = u16(port);
        } else {
            report(d, t, "expected com1..com4 or an I/O port such as 0x3f8; keeping the default");
        }
    } else if (equals(t.key, t.key_len, "loglevel")) {
        static const struct {
            const char* name;
            LogLevel level;
        } kLevels[] = {
            {"error", LogLevel::Error}, {"warn", LogLevel::Warn}, {"info", LogLevel::Info}, {"debug", LogLevel::Debug}};
        bool found = false;
        for (const auto& l : kLevels) {
            if (t.value && equals(t.value, t.value_len, l.name)) {
                o.log_level = l.level;
                found = true;
            }
        }
        if (!found) report(d, t, "expected error, warn, info or debug");
    } else if (equals(t.key, t.key_len, "debug_exit")) {
        u64 port = 0;
        if (t.value && parse_u64(t.value, t.value_len, port) && port > 0 && port <= 0xfffc) {
            o.debug_exit_port = u16(port);
        } else {
            report(d, t, "expected an I/O port such as 0xf4");
        }
    } else if (equals(t.key, t.key_len, "selftest")) {
        if (t.value && equals(t.value, t.value_len, "pagefault"))
            o.self_test = SelfTest::PageFault;
        else if (t.value && equals(t.value, t.value_len, "assert"))
            o.self_test = SelfTest::Assert;
        else if (t.value && equals(t.value, t.value_len, "stacksmash"))
            o.self_test = SelfTest::StackSmash;
        else if (t.value && equals(t.value, t.value_len, "stackoverflow"))
            o.self_test = SelfTest::StackOverflow;
        else if (t.value && equals(t.value, t.value_len, "losttimer"))
            o.self_test = SelfTest::LostTimer;
        else
            report(d, t, "expected pagefault, assert, stacksmash, stackoverflow or losttimer");
    } else if (equals(t.key, t.key_len, "noreboot")) {
        if (t.value)
            report(d, t, "takes no value");
        else
            o.noreboot = true;
    } else if (equals(t.key, t.key_len, "sched")) {
        apply_either(t, d, "rr", "credit", o.round_robin, "expected credit or rr");
    } else if (equals(t.key, t.key_len, "fastexits")) {
        apply_either(t, d, "on", "off", o.fast_exits, "expected on or off");
    } else if (equals(t.key, t.key_len, "acpidump")) {
        if (t.value)
            report(d, t, "takes no value");
        else
            o.dump_acpi = true;
    } else {
        report(d, t, "unknown option, ignored");
    }
}

}  // namespace

void parse_hypervisor_cmdline(const char* cmdline, HypervisorOptions& options, CmdlineDiagnostics& diagnostics) {
    if (!cmdline) return;
    const char* p = cmdline;
    while (*p) {
        while (*p == ' ' || *p == '\t') ++p;
        if (!*p) break;
        const char* start = p;
        while (*p && *p != ' ' && *p != '\t') ++p;
        Token t{start, usize(p - start), nullptr, 0};
        for (const char* q = start; q < p; ++q) {
            if (*q == '=') {
                t.key_len = usize(q - start);
                t.value = q + 1;
                t.value_len = usize(p - q - 1);
                break;
            }
        }
        apply(t, options, diagnostics);
    }
}
