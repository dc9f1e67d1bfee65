// A block request's data between backend and chain (dom0/devmodel/block_transfer.cpp):
// in place where the memory reaches the buffers, copied where it does not, with the
// same bytes and errors either way, over guest RAM as a byte vector.
#include "dom0/devmodel/block_transfer.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

using devmodel::BlockTransferResult;
using devmodel::BufferSegment;
using devmodel::DescriptorChain;

constexpr uint64_t kRamBase = 0x10000;
constexpr size_t kRamBytes = 64 * 1024;

// Guest RAM that reaches at most `hold_limit` pieces in place (0: none) of at most
// `piece_limit` bytes each, until release_direct.
class Ram final : public devmodel::GuestMemory {
public:
    Ram() : bytes_(kRamBytes, 0) {}
    bool read(uint64_t gpa, void* dst, size_t len) override {
        if (!inside(gpa, len)) return false;
        std::memcpy(dst, at(gpa), len);
        ++copies;
        return true;
    }
    bool write(uint64_t gpa, const void* src, size_t len) override {
        if (!inside(gpa, len)) return false;
        std::memcpy(at(gpa), src, len);
        ++copies;
        return true;
    }
    uint8_t* direct(uint64_t gpa, size_t len, size_t& contiguous) override {
        contiguous = 0;
        if (held >= hold_limit || !inside(gpa, 1)) return nullptr;
        ++held;
        contiguous = std::min({len, piece_limit, size_t(kRamBase + kRamBytes - gpa)});
        return at(gpa);
    }
    void release_direct() override {
        held = 0;
        ++releases;
    }
    bool inside(uint64_t gpa, size_t len) const {
        return gpa >= kRamBase && gpa - kRamBase <= kRamBytes && len <= kRamBytes - (gpa - kRamBase);
    }
    uint8_t* at(uint64_t gpa) { return bytes_.data() + (gpa - kRamBase); }

    size_t hold_limit = ~size_t{0};
    size_t piece_limit = ~size_t{0};
    size_t held = 0;
    int copies = 0;
    int releases = 0;

private:
    std::vector<uint8_t> bytes_;
};

// A disk that counts its calls and how many buffers the vector calls took.
class Disk final : public devmodel::BlockBackend {
public:
    Disk() : bytes_(8192) {
        for (size_t i = 0; i < bytes_.size(); ++i) bytes_[i] = static_cast<uint8_t>(i * 7 + 3);
    }
    uint64_t size_bytes() const override { return bytes_.size(); }
    bool read_only() const override { return false; }
    bool read(uint64_t offset, void* dst, size_t len) override {
        ++calls;
        if (fail || offset + len > bytes_.size()) return false;
        std::memcpy(dst, bytes_.data() + offset, len);
        return true;
    }
    bool write(uint64_t offset, const void* src, size_t len) override {
        ++calls;
        if (fail || offset + len > bytes_.size()) return false;
        std::memcpy(bytes_.data() + offset, src, len);
        return true;
    }
    bool read_vector(uint64_t offset, const struct iovec* buffers, size_t count) override {
        ++vector_calls;
        vector_buffers += count;
        return BlockBackend::read_vector(offset, buffers, count);
    }
    bool write_vector(uint64_t offset, const struct iovec* buffers, size_t count) override {
        ++vector_calls;
        vector_buffers += count;
        return BlockBackend::write_vector(offset, buffers, count);
    }
    bool flush() override { return true; }
    std::vector<uint8_t>& bytes() { return bytes_; }
    int calls = 0;
    int vector_calls = 0;
    size_t vector_buffers = 0;
    bool fail = false;

private:
    std::vector<uint8_t> bytes_;
};

// A read request's writable data buffers: 100 + 412 + 512 bytes, scattered, then the
// status byte (which the transfer leaves alone).
DescriptorChain read_chain() {
    DescriptorChain c;
    c.segments = {{kRamBase + 0x0, 16, false},
                  {kRamBase + 0x3000, 100, true},
                  {kRamBase + 0x1000, 412, true},
                  {kRamBase + 0x8000, 512, true},
                  {kRamBase + 0x9000, 1, true}};
    c.readable_bytes = 16;
    c.writable_bytes = 1025;
    return c;
}

// The bytes of the read chain's data buffers, in stream order.
std::vector<uint8_t> data_of(Ram& ram) {
    std::vector<uint8_t> out;
    for (const auto& [gpa, len] : std::vector<std::pair<uint64_t, size_t>>{
             {kRamBase + 0x3000, 100}, {kRamBase + 0x1000, 412}, {kRamBase + 0x8000, 512}})
        out.insert(out.end(), ram.at(gpa), ram.at(gpa) + len);
    return out;
}

TEST(BlockTransfer, ReadLandsInPlaceInOneBackendCall) {
    Ram ram;
    Disk disk;
    std::string error;
    ASSERT_EQ(devmodel::block_transfer(disk, ram, read_chain(), true, 0, 1024, 1024, error), BlockTransferResult::Ok)
        << error;
    EXPECT_EQ(data_of(ram), std::vector<uint8_t>(disk.bytes().begin() + 1024, disk.bytes().begin() + 2048));
    EXPECT_EQ(disk.vector_calls, 1);
    EXPECT_EQ(disk.vector_buffers, 3u);
    EXPECT_EQ(ram.copies, 0) << "nothing bounced";
    EXPECT_EQ(ram.held, 0u) << "released";
    EXPECT_EQ(*ram.at(kRamBase + 0x9000), 0) << "the status byte is not data";
}

TEST(BlockTransfer, WriteTakesTheDataAfterTheHeader) {
    Ram ram;
    Disk disk;
    DescriptorChain c;
    c.segments = {{kRamBase, 16 + 300, false}, {kRamBase + 0x2000, 212, false}, {kRamBase + 0x4000, 1, true}};
    c.readable_bytes = 528;
    c.writable_bytes = 1;
    for (size_t i = 0; i < 316; ++i) *ram.at(kRamBase + i) = static_cast<uint8_t>(0x40 + i);
    std::memset(ram.at(kRamBase + 0x2000), 0xee, 212);
    std::string error;
    ASSERT_EQ(devmodel::block_transfer(disk, ram, c, false, 16, 4096, 512, error), BlockTransferResult::Ok) << error;
    EXPECT_EQ(disk.bytes()[4096], uint8_t(0x40 + 16));
    EXPECT_EQ(disk.bytes()[4096 + 299], uint8_t(0x40 + 315));
    EXPECT_EQ(disk.bytes()[4096 + 300], 0xee);
    EXPECT_EQ(disk.bytes()[4096 + 511], 0xee);
    EXPECT_EQ(disk.bytes()[4096 + 512], uint8_t((4096 + 512) * 7 + 3)) << "nothing past the request";
    EXPECT_EQ(disk.vector_calls, 1);
}

// A memory that holds one piece at a time, or short pieces, or none in place: the same
// bytes, in more calls or through the bounce buffer.
TEST(BlockTransfer, SameBytesWhateverTheMemoryReachesInPlace) {
    struct Case {
        size_t hold_limit, piece_limit;
        int vector_calls;
        bool bounced;
    };
    for (const Case& k : {Case{1, ~size_t{0}, 3, false}, Case{~size_t{0}, 64, 1, false}, Case{0, 0, 0, true}}) {
        Ram ram;
        ram.hold_limit = k.hold_limit;
        ram.piece_limit = k.piece_limit;
        Disk disk;
        std::string error;
        ASSERT_EQ(devmodel::block_transfer(disk, ram, read_chain(), true, 0, 2048, 1024, error),
                  BlockTransferResult::Ok)
            << error;
        EXPECT_EQ(data_of(ram), std::vector<uint8_t>(disk.bytes().begin() + 2048, disk.bytes().begin() + 3072));
        EXPECT_EQ(disk.vector_calls, k.vector_calls) << k.hold_limit << " " << k.piece_limit;
        EXPECT_EQ(ram.copies != 0, k.bounced);
    }
}

TEST(BlockTransfer, ABufferOutsideRamIsARingErrorNamingIt) {
    for (const bool to_guest : {true, false}) {
        for (const size_t hold_limit : {~size_t{0}, size_t{0}}) {
            Ram ram;
            ram.hold_limit = hold_limit;
            Disk disk;
            DescriptorChain c;
            c.segments = {{kRamBase, 16, false},
                          {kRamBase + 0x100, 512, !to_guest ? false : true},
                          {0x900000, 512, !to_guest ? false : true},
                          {kRamBase + 0x200, 1, true}};
            c.readable_bytes = to_guest ? 16 : 1040;
            c.writable_bytes = to_guest ? 1025 : 1;
            std::string error;
            EXPECT_EQ(devmodel::block_transfer(disk, ram, c, to_guest, to_guest ? 0 : 16, 0, 1024, error),
                      BlockTransferResult::RingError);
            EXPECT_EQ(error, "buffer at 0x900000 (512 bytes) is not guest RAM");
            EXPECT_EQ(ram.held, 0u);
        }
    }
}

TEST(BlockTransfer, AStreamShorterThanTheRequestIsARingError) {
    Ram ram;
    Disk disk;
    std::string error;
    EXPECT_EQ(devmodel::block_transfer(disk, ram, read_chain(), true, 0, 0, 2048, error),
              BlockTransferResult::RingError);
    EXPECT_EQ(error, "write past the end of the chain's writable buffers");
}

TEST(BlockTransfer, ABackendFailureIsABackendError) {
    for (const size_t hold_limit : {~size_t{0}, size_t{0}}) {
        Ram ram;
        ram.hold_limit = hold_limit;
        Disk disk;
        disk.fail = true;
        std::string error;
        EXPECT_EQ(devmodel::block_transfer(disk, ram, read_chain(), true, 0, 0, 1024, error),
                  BlockTransferResult::BackendError);
        EXPECT_EQ(ram.held, 0u);
    }
}

}  // namespace
