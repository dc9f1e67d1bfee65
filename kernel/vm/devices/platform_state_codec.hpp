// The byte format of a platform's saved device state (domain_platform_state_get/set,
// docs/hypercalls.md "Platform state"): a header, then records, each written and read by
// the device model it belongs to. Pure code, shared with the host tests.
//
//   header (16 bytes): u32 magic 'VPST' (0x54535056), u32 format version, u32 total length
//                      (header included), u32 record count
//   record:            u32 type, u32 payload length, payload
//
// All little-endian, no padding, no alignment. A payload is the model's fields, each at an
// explicit width (never the bytes of a C++ object). Times are guest-relative: nanoseconds
// of the platform's device time (guest time since the platform started, which a restore
// continues from the saved value) or guest TSC ticks, never a host TSC reading.
//
// Reading is bounds-checked: a read past the end of a payload yields 0 and marks the
// reader failed, so a decoder reads all its fields and checks once; nothing reads a byte
// beyond the length it was given.
#pragma once

#include "kernel/types.hpp"

namespace platform_state {

inline constexpr u32 kMagic = 0x54535056;  // "VPST" as little-endian bytes
inline constexpr u32 kFormatVersion = 1;
inline constexpr usize kHeaderBytes = 16;
inline constexpr usize kRecordHeaderBytes = 8;

}  // namespace platform_state

// Writes a blob into `out`, or only counts its bytes when it does not fit: size() is then
// what the whole blob needs, and fits() false.
class StateWriter {
public:
    StateWriter(u8* out, usize capacity) : out_(out), capacity_(capacity), pos_(platform_state::kHeaderBytes) {}

    void put_u8(u8 v) { emit(v, 1); }
    void put_u16(u16 v) { emit(v, 2); }
    void put_u32(u32 v) { emit(v, 4); }
    void put_u64(u64 v) { emit(v, 8); }
    void put_bool(bool v) { emit(v ? 1 : 0, 1); }
    void put_bytes(const u8* src, usize n) {
        for (usize i = 0; i < n; ++i) emit(src[i], 1);
    }

    // A record of `type`: its fields follow, and end_record() writes its length.
    void begin_record(u32 type);
    void end_record();

    // Writes the header; the blob's size. Call once, after the last record.
    usize finish();
    bool fits() const { return pos_ <= capacity_; }
    usize size() const { return pos_; }

private:
    void emit(u64 value, usize width);
    void put_at(usize at, u32 value);

    u8* out_;
    usize capacity_;
    usize pos_;
    usize record_start_ = 0;
    u32 records_ = 0;
};

// Reads one record's payload.
class StateReader {
public:
    StateReader(const u8* in, usize length) : in_(in), length_(length) {}

    u8 get_u8() { return u8(take(1)); }
    u16 get_u16() { return u16(take(2)); }
    u32 get_u32() { return u32(take(4)); }
    u64 get_u64() { return take(8); }
    // A bool is one byte, 0 or 1; anything else fails the reader.
    bool get_bool() {
        const u64 raw = take(1);
        if (raw > 1) failed_ = true;
        return raw == 1;
    }
    void get_bytes(u8* dst, usize n) {
        for (usize i = 0; i < n; ++i) dst[i] = u8(take(1));
    }
    // A decoder's own range check: `ok` false fails the reader.
    void require(bool ok) {
        if (!ok) failed_ = true;
    }

    // Every byte read, none missing, no check failed.
    bool done() const { return !failed_ && pos_ == length_; }
    bool failed() const { return failed_; }

private:
    u64 take(usize width);

    const u8* in_;
    usize length_;
    usize pos_ = 0;
    bool failed_ = false;
};

struct StateRecord {
    u32 type;
    const u8* payload;
    u32 length;
};

enum class StateBlobError : u8 {
    None,
    TooShort,        // fewer bytes than the header or its total length
    BadMagic,        // not 'VPST'
    UnknownVersion,  // not kFormatVersion
    BadLength,       // total length not the buffer's length, or records that do not fill it exactly
};

const char* state_blob_error_name(StateBlobError error);

// The records of a blob, in order. check() validates the framing (header, and that the
// records exactly fill the total length); next() then walks them.
class StateBlob {
public:
    StateBlob(const u8* in, usize length) : in_(in), length_(length) {}
    StateBlobError check() const;
    u32 record_count() const;
    // The next record, false after the last. Only after check() returned None.
    bool next(StateRecord& record);

private:
    const u8* in_;
    usize length_;
    usize pos_ = platform_state::kHeaderBytes;
};
