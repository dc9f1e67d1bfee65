// The file `xm save` writes and `xm restore` reads, and the stream `xm migrate` sends
// (docs/save-format.md): everything a domain is, vendor-neutral, so that a domain saved on
// AMD-V restores on VT-x. Pure code over a byte sink and source, host-tested
// (tests/unit/save_image_test.cpp).
//
//   header (32 bytes): char magic[8] "VIREOSAV", u32 format version, u32 header size (32),
//                      u64 0 (flags, none yet), u32 CRC-32 of the 24 bytes before, u32 0
//   sections, until the end section:
//                      u32 type, u32 0, u64 payload length, the payload, u32 CRC-32 of the
//                      16 bytes before the payload and the payload, u32 0
//
// Little-endian throughout. A reader checks each section's length against its limit
// before it reads the payload, and its CRC before anyone uses it: a file cut short or
// changed anywhere is an error that names the section, never a domain built from half of
// it. CRC-32 is the IEEE 802.3 polynomial (as zlib's and gzip's), to catch corruption,
// not tampering: Domain-0's root trusts its own files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xm::save_image {

inline constexpr char kMagic[8] = {'V', 'I', 'R', 'E', 'O', 'S', 'A', 'V'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kHeaderBytes = 32;

enum SectionType : uint32_t {
    kConfig = 1,    // the domain's xl configuration, as text (what xm create was given)
    kDomain = 2,    // DomainRecord
    kVcpu = 3,      // u32 vCPU index, u32 0, the vCPU state (vcpu_get_state's encoding)
    kPlatform = 4,  // the virtual PC's device state (domain_platform_state_get's blob)
    kMemory = 5,    // MemoryChunk: one run of guest-physical pages
    kEnd = 6,       // u64 pages of memory the file holds: the last section
    kDevices = 7,   // the device model's state (vireo-dm's DeviceMachine::save blob), if it has one
    // The CPUID leaves with the domain's features (dom0/xm/cpuid_features.hpp,
    // kCpuidSnapshotBytes): a restore refuses a host that lacks one of them. Absent from
    // older images, whose restore does not check.
    kCpuid = 8,
    // A live migration's later rounds (xm migrate --live): pages written again since an
    // earlier round sent them, encoded as a memory section, in any order and any number
    // of times, every page of the run written (zeros too). Never in a file xm save wrote.
    kMemoryUpdate = 9,
};
// The largest device model state a reader takes: 32 functions of a few KiB each, with
// room for a device that keeps more (a console's waiting input is at most 4 KiB).
inline constexpr uint64_t kDevicesStateMax = uint64_t(1) << 20;
const char* section_name(uint32_t type);

// The largest payload a reader takes of each type: a length above it is a broken file,
// refused before anything is read or allocated.
uint64_t section_limit(uint32_t type);

struct DomainRecord {
    uint64_t memory_bytes;
    uint32_t vcpus;
    uint32_t flags;  // hypercall::DomainCreateFlags
    char name[32];
};
static_assert(sizeof(DomainRecord) == 48);

// Little-endian fields, and the test for a page the image may leave out.
inline void put32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void put64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline uint32_t get32(const uint8_t* p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i);
    return v;
}
inline uint64_t get64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
}
bool page_is_zero(const uint8_t* page);

// IEEE 802.3 CRC-32; `crc` carries on from an earlier part.
uint32_t crc32(const void* data, size_t length, uint32_t crc = 0);

class ByteSink {
public:
    virtual bool write(const void* data, size_t length) = 0;

protected:
    ~ByteSink() = default;
};

class ByteSource {
public:
    // Fills `data` with `length` bytes; false at the end of the file or stream first.
    virtual bool read(void* data, size_t length) = 0;

protected:
    ~ByteSource() = default;
};

bool write_header(ByteSink& out);
bool write_section(ByteSink& out, uint32_t type, const void* payload, uint64_t length);

struct Section {
    uint32_t type = 0;
    std::vector<uint8_t> payload;
};

// Reads and checks the header; on failure `error` says what is wrong with the file.
bool read_header(ByteSource& in, std::string& error);
// The next section, its length and CRC checked; false with `error` set otherwise, which
// calls the image `what`: "file", or "stream" (a migration's).
bool read_section(ByteSource& in, Section& out, std::string& error, const char* what = "file");

// A memory section: `count` pages from guest-physical `gpa`, of which only those that are
// not all zeros are in the file (a freshly booted guest's RAM is mostly zeros):
//   u64 gpa, u32 count (1-512), u32 0, a bitmap of count bits (bit n: page n follows),
//   then the pages whose bit is set, in order.
inline constexpr uint32_t kPageBytes = 4096;
inline constexpr uint32_t kMaxChunkPages = 512;
std::vector<uint8_t> encode_memory(uint64_t gpa, const uint8_t* pages, uint32_t count);
// Fills `pages` (count * 4 KiB, zeros where the file has none); false with `error` for a
// section that is not a well-formed chunk.
bool decode_memory(const std::vector<uint8_t>& payload, uint64_t& gpa, uint32_t& count, std::vector<uint8_t>& pages,
                   std::string& error);

}  // namespace xm::save_image
