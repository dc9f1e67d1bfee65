// The byte streams a device model's saved state is written to and read from
// (docs/save-format.md, section "devices"): explicit little-endian fields, one at a time,
// never an object's bytes, so that the encoding does not depend on a compiler's layout
// and a newer vireo-dm can still read an older version field by field.
//
// StateIn never reads past its end: a read that would sets the stream's error ("the
// state ends inside <what>") and returns zero, and every later read fails too, so a
// decoder may read a whole record and check ok() once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace devmodel {

class StateOut {
public:
    void u8(uint8_t v) { bytes_.push_back(v); }
    void u16(uint16_t v) { put(v, 2); }
    void u32(uint32_t v) { put(v, 4); }
    void u64(uint64_t v) { put(v, 8); }
    void bytes(const uint8_t* p, size_t len) { bytes_.insert(bytes_.end(), p, p + len); }
    const std::vector<uint8_t>& data() const { return bytes_; }

private:
    void put(uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    std::vector<uint8_t> bytes_;
};

class StateIn {
public:
    StateIn(const uint8_t* data, size_t len) : data_(data), len_(len) {}
    explicit StateIn(const std::vector<uint8_t>& v) : StateIn(v.data(), v.size()) {}

    uint8_t u8(const char* what) { return static_cast<uint8_t>(get(1, what)); }
    uint16_t u16(const char* what) { return static_cast<uint16_t>(get(2, what)); }
    uint32_t u32(const char* what) { return static_cast<uint32_t>(get(4, what)); }
    uint64_t u64(const char* what) { return get(8, what); }
    // len bytes, or an empty vector (and the error) when fewer are left.
    std::vector<uint8_t> bytes(size_t len, const char* what) {
        if (!take(len, what)) return {};
        return std::vector<uint8_t>(data_ + pos_ - len, data_ + pos_);
    }

    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }
    // Sets the error unless one is already set (the first cause is the one reported).
    void fail(const std::string& why) {
        if (error_.empty()) error_ = why;
    }
    size_t remaining() const { return len_ - pos_; }
    // The record must end here: trailing bytes are a malformed state too.
    bool at_end(const char* what) {
        if (ok() && pos_ != len_) fail(std::to_string(len_ - pos_) + " bytes after the end of " + what);
        return ok();
    }

private:
    bool take(size_t n, const char* what) {
        if (!ok()) return false;
        if (len_ - pos_ < n) {
            fail(std::string("the state ends inside ") + what);
            return false;
        }
        pos_ += n;
        return true;
    }
    uint64_t get(unsigned n, const char* what) {
        if (!take(n, what)) return 0;
        uint64_t v = 0;
        for (unsigned i = 0; i < n; ++i) v |= static_cast<uint64_t>(data_[pos_ - n + i]) << (8 * i);
        return v;
    }
    const uint8_t* data_;
    size_t len_;
    size_t pos_ = 0;
    std::string error_;
};

}  // namespace devmodel
