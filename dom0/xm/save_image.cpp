#include "dom0/xm/save_image.hpp"

#include <cstdio>
#include <cstring>

#include "dom0/xm/cpuid_features.hpp"
#include "kernel/vm/hypercall_abi.hpp"

namespace xm::save_image {

namespace {

constexpr uint32_t kChunkHeaderBytes = 16;
uint32_t bitmap_bytes(uint32_t count) { return (count + 7) / 8; }

}  // namespace

const char* section_name(uint32_t type) {
    switch (type) {
        case kConfig: return "config";
        case kDomain: return "domain";
        case kVcpu: return "vcpu";
        case kPlatform: return "platform";
        case kMemory: return "memory";
        case kEnd: return "end";
        case kDevices: return "devices";
        case kCpuid: return "cpuid";
        case kMemoryUpdate: return "memory-update";
        default: return "unknown";
    }
}

uint64_t section_limit(uint32_t type) {
    switch (type) {
        case kConfig: return uint64_t(64) * 1024;
        case kDomain: return sizeof(DomainRecord);
        case kVcpu: return 8 + uint64_t(16) * 1024;
        case kPlatform: return hypercall::kPlatformStateMax;
        case kMemory:
        case kMemoryUpdate:
            return kChunkHeaderBytes + bitmap_bytes(kMaxChunkPages) + uint64_t(kMaxChunkPages) * kPageBytes;
        case kEnd: return 8;
        case kDevices: return kDevicesStateMax;
        case kCpuid: return kCpuidSnapshotBytes;
        default: return 0;
    }
}

bool page_is_zero(const uint8_t* page) {
    for (uint32_t i = 0; i < kPageBytes; ++i)
        if (page[i]) return false;
    return true;
}

uint32_t crc32(const void* data, size_t length, uint32_t crc) {
    static uint32_t table[256];
    static bool ready = false;
    if (!ready) {
        for (uint32_t n = 0; n < 256; ++n) {
            uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        ready = true;
    }
    const auto* p = static_cast<const uint8_t*>(data);
    crc = ~crc;
    for (size_t i = 0; i < length; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

bool write_header(ByteSink& out) {
    uint8_t h[kHeaderBytes] = {};
    memcpy(h, kMagic, sizeof(kMagic));
    put32(h + 8, kFormatVersion);
    put32(h + 12, kHeaderBytes);
    put64(h + 16, 0);
    put32(h + 24, crc32(h, 24));
    return out.write(h, sizeof(h));
}

bool write_section(ByteSink& out, uint32_t type, const void* payload, uint64_t length) {
    uint8_t head[16] = {};
    put32(head, type);
    put64(head + 8, length);
    uint8_t tail[8] = {};
    put32(tail, crc32(payload, size_t(length), crc32(head, sizeof(head))));
    return out.write(head, sizeof(head)) && (length == 0 || out.write(payload, size_t(length))) &&
           out.write(tail, sizeof(tail));
}

bool read_header(ByteSource& in, std::string& error) {
    uint8_t h[kHeaderBytes];
    if (!in.read(h, sizeof(h))) {
        error = "it is shorter than a save image's header (32 bytes)";
        return false;
    }
    if (memcmp(h, kMagic, sizeof(kMagic)) != 0) {
        error = "it is not a Vireo save image (no VIREOSAV at its start)";
        return false;
    }
    if (crc32(h, 24) != get32(h + 24)) {
        error = "its header is damaged (checksum mismatch)";
        return false;
    }
    if (get32(h + 8) != kFormatVersion) {
        char text[96];
        snprintf(text, sizeof(text), "it is of format version %u; this xm reads version %u", get32(h + 8),
                 kFormatVersion);
        error = text;
        return false;
    }
    if (get32(h + 12) != kHeaderBytes || get64(h + 16) != 0 || get32(h + 28) != 0) {
        error = "its header has fields this xm does not know";
        return false;
    }
    return true;
}

bool read_section(ByteSource& in, Section& out, std::string& error, const char* what) {
    uint8_t head[16];
    if (!in.read(head, sizeof(head))) {
        error = std::string("it ends before its end section: the ") + what + " is truncated";
        return false;
    }
    out.type = get32(head);
    const uint64_t length = get64(head + 8);
    char text[160];
    if (get32(head + 4) != 0 || section_limit(out.type) == 0) {
        snprintf(text, sizeof(text), "a section of unknown type %u: the %s is damaged or newer", out.type, what);
        error = text;
        return false;
    }
    if (length > section_limit(out.type)) {
        snprintf(text, sizeof(text),
                 "its %s section claims %llu bytes, more than the %llu it can hold: the %s is damaged",
                 section_name(out.type), static_cast<unsigned long long>(length),
                 static_cast<unsigned long long>(section_limit(out.type)), what);
        error = text;
        return false;
    }
    out.payload.resize(size_t(length));
    uint8_t tail[8];
    if ((length && !in.read(out.payload.data(), size_t(length))) || !in.read(tail, sizeof(tail))) {
        snprintf(text, sizeof(text), "it ends inside its %s section: the %s is truncated", section_name(out.type),
                 what);
        error = text;
        return false;
    }
    if (crc32(out.payload.data(), out.payload.size(), crc32(head, sizeof(head))) != get32(tail) ||
        get32(tail + 4) != 0) {
        snprintf(text, sizeof(text), "its %s section is damaged (checksum mismatch)", section_name(out.type));
        error = text;
        return false;
    }
    return true;
}

std::vector<uint8_t> encode_memory(uint64_t gpa, const uint8_t* pages, uint32_t count) {
    std::vector<uint8_t> out(kChunkHeaderBytes + bitmap_bytes(count));
    put64(out.data(), gpa);
    put32(out.data() + 8, count);
    for (uint32_t i = 0; i < count; ++i) {
        const uint8_t* page = pages + size_t(i) * kPageBytes;
        if (page_is_zero(page)) continue;
        out[kChunkHeaderBytes + i / 8] |= uint8_t(1u << (i % 8));
        out.insert(out.end(), page, page + kPageBytes);
    }
    return out;
}

bool decode_memory(const std::vector<uint8_t>& payload, uint64_t& gpa, uint32_t& count, std::vector<uint8_t>& pages,
                   std::string& error) {
    if (payload.size() < kChunkHeaderBytes) {
        error = "a memory section too short for its header";
        return false;
    }
    gpa = get64(payload.data());
    count = get32(payload.data() + 8);
    if (count == 0 || count > kMaxChunkPages || get32(payload.data() + 12) != 0 || gpa % kPageBytes) {
        error = "a memory section with a bad address or page count";
        return false;
    }
    const uint8_t* bitmap = payload.data() + kChunkHeaderBytes;
    if (payload.size() < kChunkHeaderBytes + bitmap_bytes(count)) {
        error = "a memory section too short for its bitmap";
        return false;
    }
    uint32_t present = 0;
    for (uint32_t i = 0; i < count; ++i) present += (bitmap[i / 8] >> (i % 8)) & 1;
    for (uint32_t i = count; i < bitmap_bytes(count) * 8; ++i)
        if ((bitmap[i / 8] >> (i % 8)) & 1) {
            error = "a memory section whose bitmap names pages past its count";
            return false;
        }
    if (payload.size() != kChunkHeaderBytes + bitmap_bytes(count) + size_t(present) * kPageBytes) {
        error = "a memory section whose pages do not match its bitmap";
        return false;
    }
    pages.assign(size_t(count) * kPageBytes, 0);
    const uint8_t* next = bitmap + bitmap_bytes(count);
    for (uint32_t i = 0; i < count; ++i) {
        if (!((bitmap[i / 8] >> (i % 8)) & 1)) continue;
        memcpy(pages.data() + size_t(i) * kPageBytes, next, kPageBytes);
        next += kPageBytes;
    }
    return true;
}

}  // namespace xm::save_image
