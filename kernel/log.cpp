#include "kernel/log.hpp"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drivers/serial16550.hpp"
#include "kernel/percpu.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/text_ring.hpp"
#include "kernel/time.hpp"

namespace {

Serial16550* g_console = nullptr;
LogLevel g_level = LogLevel::Info;
SpinLock g_console_lock;

constexpr char kLevelLetter[] = {'E', 'W', 'I', 'D'};

void emit(const char* text, usize len) {
    if (g_console) g_console->write(text, len);
}

// The domain at the console writes to it byte by byte (console_write_raw). While it is in
// the middle of a line (a prompt, or a line still being written), Vireo's own lines wait
// here, so that neither is cut by the other: they follow the domain's next newline, or
// come kHoldMicroseconds after the line began (a prompt waits for its user), on a line of
// their own. All under g_console_lock.
constexpr usize kHeldBytes = 4096;
constexpr u64 kHoldMicroseconds = 500000;
char g_held[kHeldBytes];
usize g_held_length = 0;
bool g_raw_mid_line = false;
u64 g_raw_line_start_us = 0;

void end_raw_line() {
    if (!g_raw_mid_line) return;
    emit("\r\n", 2);
    g_raw_mid_line = false;
}

void flush_held() {
    if (g_held_length == 0) return;
    end_raw_line();
    emit(g_held, g_held_length);
    g_held_length = 0;
}

// Vireo's own lines, kept for the control domain (xm dmesg), as Xen keeps its console ring.
constexpr usize kLogRingBytes = usize(64) * 1024;
TextRing<kLogRingBytes> g_log_ring;

// A whole line of Vireo's (ending in a newline).
void emit_line(const char* line, usize len) {
    g_log_ring.append(line, len);
    if (g_raw_mid_line && uptime_us() - g_raw_line_start_us < kHoldMicroseconds && g_held_length + len <= kHeldBytes) {
        memcpy(g_held + g_held_length, line, len);
        g_held_length += len;
        return;
    }
    flush_held();
    end_raw_line();
    emit(line, len);
}

}  // namespace

void log_init(Serial16550* console, LogLevel level) {
    g_console = console;
    g_level = level;
}

LogLevel log_level() { return g_level; }

void log_message(LogLevel level, const char* fmt, ...) {
    if (int(level) > int(g_level)) return;
    char line[512];
    const u64 us = uptime_us();
    int n = snprintf(line, sizeof(line), "[%5llu.%06llu] cpu%u %c ", (unsigned long long)(us / 1000000),
                     (unsigned long long)(us % 1000000), this_cpu_index(), kLevelLetter[int(level)]);
    va_list args;
    va_start(args, fmt);
    int body = vsnprintf(line + n, sizeof(line) - usize(n) - 1, fmt, args);
    va_end(args);
    usize len = usize(n) + usize(body);
    if (len > sizeof(line) - 2) {
        // Say so rather than silently dropping the end of a long line.
        static const char kMark[] = "[...]";
        len = sizeof(line) - 2;
        memcpy(line + len - (sizeof(kMark) - 1), kMark, sizeof(kMark) - 1);
    }
    line[len++] = '\n';
    IrqLockGuard guard(g_console_lock);
    emit_line(line, len);
}

void console_line(const char* fmt, ...) {
    char line[512];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, args);
    va_end(args);
    usize len = n < 0 ? 0 : (usize(n) > sizeof(line) - 2 ? sizeof(line) - 2 : usize(n));
    line[len++] = '\n';
    IrqLockGuard guard(g_console_lock);
    emit_line(line, len);
}

void console_write_raw(const char* text, usize length) {
    if (length == 0) return;
    IrqLockGuard guard(g_console_lock);
    emit(text, length);
    if (text[length - 1] == '\n') {
        g_raw_mid_line = false;
        flush_held();
    } else if (!g_raw_mid_line) {
        g_raw_mid_line = true;
        g_raw_line_start_us = uptime_us();
    }
}

void console_flush_held_lines() {
    IrqLockGuard guard(g_console_lock);
    if (g_held_length != 0 && uptime_us() - g_raw_line_start_us >= kHoldMicroseconds) flush_held();
}

usize log_ring_read(u64 position, char* out, usize length, u64& first, u64& end, bool clear) {
    IrqLockGuard guard(g_console_lock);
    const usize n = g_log_ring.read(position, out, length, first);
    end = g_log_ring.end();
    if (clear) g_log_ring.clear_before(first + n);
    return n;
}

bool console_read_key(char& key) {
    u8 byte;
    IrqLockGuard guard(g_console_lock);
    if (!g_console || !g_console->read_byte(byte)) return false;
    key = char(byte);
    return true;
}

void console_write_panic(const char* text) {
    // Another CPU may have been stopped holding the lock: wait a little once, and after
    // that print without it for the rest of the report.
    static bool lock_abandoned = false;
    const bool locked = !lock_abandoned && g_console_lock.try_lock_for(100000);
    if (!locked) lock_abandoned = true;
    flush_held();
    emit(text, strlen(text));
    if (locked) g_console_lock.unlock();
}
