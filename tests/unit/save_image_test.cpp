// xm's save image (dom0/xm/save_image.hpp): what it writes reads back, zero pages take no
// room, and a file cut short, changed in any byte, of another version or with a length
// past its limit is refused with a message that says so.
#include "dom0/xm/save_image.hpp"

#include "dom0/xm/cpuid_features.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace {

using namespace xm::save_image;

class VectorSink final : public ByteSink {
public:
    bool write(const void* data, size_t length) override {
        const auto* p = static_cast<const uint8_t*>(data);
        bytes.insert(bytes.end(), p, p + length);
        return true;
    }
    std::vector<uint8_t> bytes;
};

class VectorSource final : public ByteSource {
public:
    explicit VectorSource(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
    bool read(void* data, size_t length) override {
        if (length > bytes_.size() - at_) return false;
        memcpy(data, bytes_.data() + at_, length);
        at_ += length;
        return true;
    }

private:
    std::vector<uint8_t> bytes_;
    size_t at_ = 0;
};

std::vector<uint8_t> pages_with(uint32_t count, std::initializer_list<uint32_t> filled) {
    std::vector<uint8_t> pages(size_t(count) * kPageBytes, 0);
    for (uint32_t i : filled) memset(pages.data() + size_t(i) * kPageBytes + 100, int(0x40 + i), 7);
    return pages;
}

// A small image: header, config, domain, one memory chunk, end.
std::vector<uint8_t> small_image() {
    VectorSink out;
    EXPECT_TRUE(write_header(out));
    const std::string config = "name = 'web'\nmemory = 128\n";
    EXPECT_TRUE(write_section(out, kConfig, config.data(), config.size()));
    DomainRecord d{};
    d.memory_bytes = 128ull << 20;
    d.vcpus = 2;
    strcpy(d.name, "web");
    EXPECT_TRUE(write_section(out, kDomain, &d, sizeof(d)));
    const std::vector<uint8_t> pages = pages_with(4, {1, 3});
    const std::vector<uint8_t> chunk = encode_memory(0x200000, pages.data(), 4);
    EXPECT_TRUE(write_section(out, kMemory, chunk.data(), chunk.size()));
    const uint64_t total = 4;
    EXPECT_TRUE(write_section(out, kEnd, &total, sizeof(total)));
    return out.bytes;
}

// Reads an image to its end section: "" when it reads whole, else the first error.
std::string read_all(const std::vector<uint8_t>& bytes) {
    VectorSource in(bytes);
    std::string error;
    if (!read_header(in, error)) return error;
    Section s;
    while (read_section(in, s, error))
        if (s.type == kEnd) return "";
    return error;
}

TEST(SaveImage, Crc32IsIeee) {
    EXPECT_EQ(crc32("123456789", 9), 0xcbf43926u);  // the CRC-32 check value
    EXPECT_EQ(crc32("6789", 4, crc32("12345", 5)), 0xcbf43926u);
}

TEST(SaveImage, WhatIsWrittenReadsBack) {
    const std::vector<uint8_t> bytes = small_image();
    VectorSource in(bytes);
    std::string error;
    ASSERT_TRUE(read_header(in, error)) << error;
    Section s;
    ASSERT_TRUE(read_section(in, s, error)) << error;
    EXPECT_EQ(s.type, kConfig);
    EXPECT_EQ(std::string(s.payload.begin(), s.payload.end()), "name = 'web'\nmemory = 128\n");
    ASSERT_TRUE(read_section(in, s, error)) << error;
    ASSERT_EQ(s.type, kDomain);
    ASSERT_EQ(s.payload.size(), sizeof(DomainRecord));
    DomainRecord d;
    memcpy(&d, s.payload.data(), sizeof(d));
    EXPECT_EQ(d.memory_bytes, 128ull << 20);
    EXPECT_EQ(d.vcpus, 2u);
    EXPECT_STREQ(d.name, "web");
    ASSERT_TRUE(read_section(in, s, error)) << error;
    ASSERT_EQ(s.type, kMemory);
    uint64_t gpa = 0;
    uint32_t count = 0;
    std::vector<uint8_t> pages;
    ASSERT_TRUE(decode_memory(s.payload, gpa, count, pages, error)) << error;
    EXPECT_EQ(gpa, 0x200000u);
    EXPECT_EQ(count, 4u);
    EXPECT_EQ(pages, pages_with(4, {1, 3}));
    ASSERT_TRUE(read_section(in, s, error)) << error;
    EXPECT_EQ(s.type, kEnd);
}

TEST(SaveImage, ZeroPagesTakeNoRoom) {
    const std::vector<uint8_t> pages = pages_with(512, {0, 511});
    const std::vector<uint8_t> chunk = encode_memory(0, pages.data(), 512);
    EXPECT_EQ(chunk.size(), 16u + 64 + 2 * kPageBytes);
    uint64_t gpa;
    uint32_t count;
    std::vector<uint8_t> back;
    std::string error;
    ASSERT_TRUE(decode_memory(chunk, gpa, count, back, error)) << error;
    EXPECT_EQ(back, pages);
}

TEST(SaveImage, AFileCutAnywhereIsRefused) {
    const std::vector<uint8_t> bytes = small_image();
    ASSERT_EQ(read_all(bytes), "");
    for (size_t length = 0; length < bytes.size(); ++length) {
        const std::string error = read_all(std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(length)));
        EXPECT_NE(error, "") << length;
        if (length >= kHeaderBytes) EXPECT_NE(error.find("truncated"), std::string::npos) << length << ": " << error;
    }
}

TEST(SaveImage, AnyByteChangedIsRefused) {
    const std::vector<uint8_t> bytes = small_image();
    for (size_t at = 0; at < bytes.size(); ++at) {
        std::vector<uint8_t> damaged = bytes;
        damaged[at] ^= 0x10;
        EXPECT_NE(read_all(damaged), "") << "byte " << at;
    }
}

TEST(SaveImage, AnotherVersionIsNamed) {
    std::vector<uint8_t> bytes = small_image();
    bytes[8] = 2;
    const uint32_t crc = crc32(bytes.data(), 24);
    memcpy(bytes.data() + 24, &crc, 4);
    EXPECT_EQ(read_all(bytes), "it is of format version 2; this xm reads version 1");
    EXPECT_EQ(read_all({'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e', 0, 0, 0, 0,
                        0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0, 0, 0, 0}),
              "it is not a Vireo save image (no VIREOSAV at its start)");
}

TEST(SaveImage, ALengthPastItsLimitIsRefusedBeforeItIsRead) {
    VectorSink out;
    ASSERT_TRUE(write_header(out));
    uint8_t head[16] = {kDomain};
    const uint64_t huge = 1ull << 40;
    memcpy(head + 8, &huge, 8);
    out.write(head, sizeof(head));
    EXPECT_EQ(read_all(out.bytes),
              "its domain section claims 1099511627776 bytes, more than the 48 it can hold: the file is damaged");
}

TEST(SaveImage, AMemoryUpdateIsAMemoryChunkUnderItsOwnName) {
    EXPECT_STREQ(section_name(kMemoryUpdate), "memory-update");
    EXPECT_EQ(section_limit(kMemoryUpdate), section_limit(kMemory));
}

TEST(SaveImage, AMalformedMemoryChunkIsRefused) {
    const std::vector<uint8_t> pages = pages_with(8, {2});
    std::vector<uint8_t> chunk = encode_memory(0x1000, pages.data(), 8);
    uint64_t gpa;
    uint32_t count;
    std::vector<uint8_t> back;
    std::string error;
    std::vector<uint8_t> bad = chunk;
    bad[16] |= 0x01;  // page 0 claimed, but not in the section
    EXPECT_FALSE(decode_memory(bad, gpa, count, back, error));
    bad = chunk;
    bad[8] = 0;  // no pages
    EXPECT_FALSE(decode_memory(bad, gpa, count, back, error));
    bad = chunk;
    bad[0] = 0x01;  // not page-aligned
    EXPECT_FALSE(decode_memory(bad, gpa, count, back, error));
    bad = encode_memory(0, pages.data(), 3);
    bad[16] |= 0x80;  // a bit past the count
    EXPECT_FALSE(decode_memory(bad, gpa, count, back, error));
    EXPECT_TRUE(decode_memory(chunk, gpa, count, back, error)) << error;
}

}  // namespace

// The device model's state travels as an opaque devices section, limit and CRC checked.
TEST(SaveImage, DevicesSectionRoundTrips) {
    VectorSink out;
    ASSERT_TRUE(write_header(out));
    const std::vector<uint8_t> blob{'V', 'D', 'M', 'S', 1, 0, 0, 0};
    ASSERT_TRUE(write_section(out, kDevices, blob.data(), blob.size()));
    VectorSource in(out.bytes);
    std::string error;
    ASSERT_TRUE(read_header(in, error)) << error;
    Section s;
    ASSERT_TRUE(read_section(in, s, error)) << error;
    EXPECT_EQ(s.type, kDevices);
    EXPECT_EQ(s.payload, blob);
    EXPECT_STREQ(section_name(kDevices), "devices");
    EXPECT_EQ(section_limit(kDevices), kDevicesStateMax);
}

// The domain's CPUID features (type 8): 48 bytes, and not one more.
TEST(SaveImage, CpuidSectionRoundTripsAndHasAFixedSize) {
    xm::CpuidSnapshot snapshot;
    snapshot.leaf1 = {0x00a00f11, 0x00020800, 0x7ed8320b, 0x178bfbff};
    snapshot.leaf7 = {0, 0x219c91a9, 0, 0};
    snapshot.ext1 = {0x00a00f11, 0, 0x00000121, 0x2c100800};
    const std::vector<uint8_t> payload = xm::encode_cpuid_snapshot(snapshot);
    VectorSink out;
    ASSERT_TRUE(write_header(out));
    ASSERT_TRUE(write_section(out, kCpuid, payload.data(), payload.size()));
    std::vector<uint8_t> longer = payload;
    longer.push_back(0);
    ASSERT_TRUE(write_section(out, kCpuid, longer.data(), longer.size()));
    VectorSource in(out.bytes);
    std::string error;
    ASSERT_TRUE(read_header(in, error)) << error;
    Section s;
    ASSERT_TRUE(read_section(in, s, error)) << error;
    EXPECT_EQ(s.type, kCpuid);
    xm::CpuidSnapshot back;
    ASSERT_TRUE(xm::decode_cpuid_snapshot(s.payload, back));
    EXPECT_EQ(back.leaf7.ebx, snapshot.leaf7.ebx);
    EXPECT_EQ(back.ext1.edx, snapshot.ext1.edx);
    EXPECT_FALSE(read_section(in, s, error));
    EXPECT_EQ(error, "its cpuid section claims 49 bytes, more than the 48 it can hold: the file is damaged");
    EXPECT_EQ(kCpuid, 8u);
    EXPECT_STREQ(section_name(kCpuid), "cpuid");
    EXPECT_EQ(section_limit(kCpuid), xm::kCpuidSnapshotBytes);
}
