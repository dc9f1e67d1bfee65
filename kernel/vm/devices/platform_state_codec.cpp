#include "kernel/vm/devices/platform_state_codec.hpp"

using namespace platform_state;

namespace {

u32 load_u32(const u8* p) { return u32(p[0]) | u32(p[1]) << 8 | u32(p[2]) << 16 | u32(p[3]) << 24; }

}  // namespace

void StateWriter::emit(u64 value, usize width) {
    // Past the capacity only the size grows: the caller learns what the blob needs.
    if (pos_ + width <= capacity_)
        for (usize i = 0; i < width; ++i) out_[pos_ + i] = u8(value >> (8 * i));
    pos_ += width;
}

void StateWriter::put_at(usize at, u32 value) {
    if (at + 4 > capacity_) return;
    for (usize i = 0; i < 4; ++i) out_[at + i] = u8(value >> (8 * i));
}

void StateWriter::begin_record(u32 type) {
    record_start_ = pos_;
    put_u32(type);
    put_u32(0);  // the length, once known
}

void StateWriter::end_record() {
    put_at(record_start_ + 4, u32(pos_ - record_start_ - kRecordHeaderBytes));
    ++records_;
}

usize StateWriter::finish() {
    put_at(0, kMagic);
    put_at(4, kFormatVersion);
    put_at(8, u32(pos_));
    put_at(12, records_);
    return pos_;
}

u64 StateReader::take(usize width) {
    if (width > length_ - pos_) {
        failed_ = true;
        pos_ = length_;
        return 0;
    }
    u64 value = 0;
    for (usize i = 0; i < width; ++i) value |= u64(in_[pos_ + i]) << (8 * i);
    pos_ += width;
    return value;
}

const char* state_blob_error_name(StateBlobError error) {
    switch (error) {
        case StateBlobError::None: return "none";
        case StateBlobError::TooShort: return "too short";
        case StateBlobError::BadMagic: return "bad magic";
        case StateBlobError::UnknownVersion: return "unknown format version";
        case StateBlobError::BadLength: return "bad length";
    }
    return "?";
}

StateBlobError StateBlob::check() const {
    if (length_ < kHeaderBytes) return StateBlobError::TooShort;
    if (load_u32(in_) != kMagic) return StateBlobError::BadMagic;
    if (load_u32(in_ + 4) != kFormatVersion) return StateBlobError::UnknownVersion;
    const u32 total = load_u32(in_ + 8);
    if (total > length_) return StateBlobError::TooShort;
    if (total != length_) return StateBlobError::BadLength;
    // The records, counted, must fill the rest exactly.
    usize pos = kHeaderBytes;
    u32 records = 0;
    while (pos < length_) {
        if (length_ - pos < kRecordHeaderBytes) return StateBlobError::BadLength;
        const u32 payload = load_u32(in_ + pos + 4);
        if (payload > length_ - pos - kRecordHeaderBytes) return StateBlobError::BadLength;
        pos += kRecordHeaderBytes + payload;
        ++records;
    }
    return records == record_count() ? StateBlobError::None : StateBlobError::BadLength;
}

u32 StateBlob::record_count() const { return length_ < kHeaderBytes ? 0 : load_u32(in_ + 12); }

bool StateBlob::next(StateRecord& record) {
    if (pos_ + kRecordHeaderBytes > length_) return false;
    record.type = load_u32(in_ + pos_);
    record.length = load_u32(in_ + pos_ + 4);
    record.payload = in_ + pos_ + kRecordHeaderBytes;
    pos_ += kRecordHeaderBytes + record.length;
    return true;
}
