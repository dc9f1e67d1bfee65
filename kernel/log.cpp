#include "kernel/log.hpp"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drivers/serial16550.hpp"
#include "kernel/percpu.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/time.hpp"

namespace {

Serial16550* g_console = nullptr;
LogLevel g_level = LogLevel::Info;
SpinLock g_console_lock;

constexpr char kLevelLetter[] = {'E', 'W', 'I', 'D'};

void emit(const char* text, usize len) {
    if (g_console) g_console->write(text, len);
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
    emit(line, len);
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
    emit(line, len);
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
    emit(text, strlen(text));
    if (locked) g_console_lock.unlock();
}
