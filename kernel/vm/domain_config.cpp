#include "kernel/vm/domain_config.hpp"

#include "kernel/sched/credit_policy.hpp"

#include <stdio.h>
#include <string.h>

namespace {

constexpr u64 kMaxDomainVcpus = 8;  // vcpus=

bool is_space(char c) { return c == ' ' || c == '\t'; }

bool equals(const char* s, usize len, const char* literal) {
    return strlen(literal) == len && memcmp(s, literal, len) == 0;
}

bool parse_decimal(const char* s, usize len, u64& out) {
    if (len == 0) return false;
    u64 v = 0;
    for (usize i = 0; i < len; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        const u64 digit = u64(s[i]) - u64('0');
        if (v > (~0ull - digit) / 10) return false;
        v = v * 10 + digit;
    }
    out = v;
    return true;
}

}  // namespace

bool valid_domain_name(const char* s, usize len) {
    if (len == 0 || len >= DomainModuleLine::kNameLength) return false;
    for (usize i = 0; i < len; ++i) {
        const char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

namespace {

// Formats a message about the offending text `s` (shown up to 40 bytes) into `buffer`.
bool fail(char* buffer, usize size, const char* fmt, const char* s, usize len) {
    snprintf(buffer, size, fmt, int(len > 40 ? 40 : len), s);
    return false;
}

bool fail(char* buffer, usize size, const char* message) {
    snprintf(buffer, size, "%s", message);
    return false;
}

}  // namespace

bool is_domain_line(const char* cmdline) {
    if (!cmdline) return false;
    while (is_space(*cmdline)) ++cmdline;
    return strncmp(cmdline, "domain", 6) == 0 && (cmdline[6] == 0 || is_space(cmdline[6]));
}

bool parse_memory_size(const char* text, usize length, u64& bytes) {
    if (length == 0) return false;
    u64 multiplier = 1;
    const char suffix = text[length - 1];
    if (suffix == 'K' || suffix == 'k')
        multiplier = KiB;
    else if (suffix == 'M' || suffix == 'm')
        multiplier = MiB;
    else if (suffix == 'G' || suffix == 'g')
        multiplier = GiB;
    const usize digits = multiplier == 1 ? length : length - 1;
    u64 value;
    if (!parse_decimal(text, digits, value) || value == 0 || value > ~0ull / multiplier) return false;
    bytes = value * multiplier;
    return true;
}

bool parse_cpu_list(const char* text, usize length, u64& mask) {
    if (equals(text, length, "all")) {
        mask = ~0ull;
        return true;
    }
    u64 result = 0;
    usize i = 0;
    while (i <= length) {
        usize end = i;
        while (end < length && text[end] != ',') ++end;
        const char* item = text + i;
        const usize item_len = end - i;
        const char* dash = static_cast<const char*>(memchr(item, '-', item_len));
        u64 first, last;
        if (dash) {
            if (!parse_decimal(item, usize(dash - item), first) ||
                !parse_decimal(dash + 1, item_len - usize(dash - item) - 1, last))
                return false;
        } else {
            if (!parse_decimal(item, item_len, first)) return false;
            last = first;
        }
        if (first > last || last > 63) return false;
        for (u64 c = first; c <= last; ++c) result |= 1ull << c;
        i = end + 1;
    }
    if (!result) return false;
    mask = result;
    return true;
}

bool parse_domain_line(const char* cmdline, u32 default_index, DomainModuleLine& out, char* error_buffer,
                       usize error_buffer_size) {
    memset(&out, 0, sizeof(out));
    snprintf(out.name, sizeof(out.name), "dom%u", default_index);
    out.memory_bytes = kDefaultDomainMemory;
    out.vcpus = 1;
    out.weight = kCreditDefaultWeight;
    out.cpus = ~0ull;
    if (!is_domain_line(cmdline)) return fail(error_buffer, error_buffer_size, "not a domain line");
    const char* p = cmdline;
    while (is_space(*p)) ++p;
    p += 6;
    while (*p) {
        while (is_space(*p)) ++p;
        if (!*p) break;
        const char* start = p;
        while (*p && !is_space(*p)) ++p;
        const usize len = usize(p - start);
        if (equals(start, len, "--")) {
            while (is_space(*p)) ++p;
            if (strlen(p) >= sizeof(out.guest_cmdline))
                return fail(error_buffer, error_buffer_size, "the guest command line is longer than 255 bytes");
            strcpy(out.guest_cmdline, p);
            break;
        }
        if (equals(start, len, "dom0")) {
            out.dom0 = true;
            continue;
        }
        const char* eq = static_cast<const char*>(memchr(start, '=', len));
        if (!eq) return fail(error_buffer, error_buffer_size, "'%.*s': expected key=value or dom0", start, len);
        const usize key_len = usize(eq - start);
        const char* value = eq + 1;
        const usize value_len = len - key_len - 1;
        if (equals(start, key_len, "name")) {
            if (!valid_domain_name(value, value_len))
                return fail(error_buffer, error_buffer_size, "name '%.*s': use 1-31 letters, digits, '-', '_' or '.'",
                            value, value_len);
            memcpy(out.name, value, value_len);
            out.name[value_len] = 0;
        } else if (equals(start, key_len, "mem")) {
            u64 bytes;
            if (!parse_memory_size(value, value_len, bytes))
                return fail(error_buffer, error_buffer_size, "mem '%.*s': expected a size such as 64M or 1G", value,
                            value_len);
            if (bytes < kMinDomainMemory || bytes > kMaxDomainMemory)
                return fail(error_buffer, error_buffer_size, "mem '%.*s': must be between 2M and 64G", value,
                            value_len);
            out.memory_bytes = bytes;
        } else if (equals(start, key_len, "vcpus")) {
            u64 n;
            if (!parse_decimal(value, value_len, n) || n < 1 || n > 8)
                return fail(error_buffer, error_buffer_size, "vcpus '%.*s': must be between 1 and 8", value, value_len);
            out.vcpus = u32(n);
        } else if (equals(start, key_len, "platform")) {
            if (!equals(value, value_len, "pc"))
                return fail(error_buffer, error_buffer_size, "platform '%.*s': the only platform is 'pc'", value,
                            value_len);
            out.pc_platform = true;
        } else if (equals(start, key_len, "role")) {
            if (!equals(value, value_len, "control"))
                return fail(error_buffer, error_buffer_size, "role '%.*s': the only role is 'control'", value,
                            value_len);
            out.privileged = true;
        } else if (equals(start, key_len, "weight")) {
            u64 n;
            if (!parse_decimal(value, value_len, n) || n < kCreditMinWeight || n > kCreditMaxWeight)
                return fail(error_buffer, error_buffer_size, "weight '%.*s': must be between 1 and 65535", value,
                            value_len);
            out.weight = u32(n);
        } else if (equals(start, key_len, "cap")) {
            u64 n;
            if (!parse_decimal(value, value_len, n) || n > 100 * kMaxDomainVcpus)
                return fail(error_buffer, error_buffer_size,
                            "cap '%.*s': a percentage of one CPU, 0 (none) to 100 per vCPU", value, value_len);
            out.cap_percent = u32(n);
        } else if (equals(start, key_len, "cpus")) {
            if (!parse_cpu_list(value, value_len, out.cpus))
                return fail(error_buffer, error_buffer_size,
                            "cpus '%.*s': expected CPUs such as 0, 0-3,6 or all (CPUs 0-63)", value, value_len);
        } else {
            return fail(error_buffer, error_buffer_size, "'%.*s': unknown option", start, len);
        }
    }
    if (out.cap_percent > 100 * out.vcpus) {
        snprintf(error_buffer, error_buffer_size, "cap %u: more than its %u vCPU(s) can use (at most %u)",
                 out.cap_percent, out.vcpus, 100 * out.vcpus);
        return false;
    }
    return true;
}
