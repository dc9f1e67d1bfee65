// The hypervisor log: one line per message on the serial console, prefixed with the
// time since boot, the CPU number and the level, e.g.
//   [    0.214063] cpu1 I svm: root mode on, host save area at 0x1f3000
// Lines below the configured level (command line `loglevel=`) are dropped.
#pragma once

#include "kernel/log_level.hpp"
#include "kernel/types.hpp"

class Serial16550;

void log_init(Serial16550* console, LogLevel level);
LogLevel log_level();
void log_message(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_message(LogLevel::Error, __VA_ARGS__)
#define log_warn(...) log_message(LogLevel::Warn, __VA_ARGS__)
#define log_info(...) log_message(LogLevel::Info, __VA_ARGS__)
#define log_debug(...) log_message(LogLevel::Debug, __VA_ARGS__)

// A line for users and tests, printed exactly as given (no prefix) and at every level,
// such as the boot summary "vireo: 4 CPUs in SVM root mode".
void console_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Bytes exactly as given, terminal sequences included: the output of the domain that has
// the console's input (kernel/vm/debug_keys.hpp), which is its terminal, as on Xen.
void console_write_raw(const char* text, usize length);
// Vireo's lines wait while that domain is in the middle of a line (kernel/log.cpp); the
// console's poll timer lets them out once they have waited long enough.
void console_flush_held_lines();

// Vireo's own lines as they were printed, kept in a ring (xm dmesg): up to `length` bytes
// from `position` on (TextRing::read), `end` the ring's end; `clear` then forgets all
// up to the end of what this read gave.
usize log_ring_read(u64 position, char* out, usize length, u64& first, u64& end, bool clear);

// A key typed on the console, if any (debug keys).
bool console_read_key(char& key);

// Raw output for the panic path: takes the console lock only if it can get it soon.
void console_write_panic(const char* text);
