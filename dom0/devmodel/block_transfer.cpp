#include "dom0/devmodel/block_transfer.hpp"

#include <algorithm>
#include <vector>

#include "dom0/devmodel/chain_io.hpp"
#include "dom0/devmodel/little_endian.hpp"

namespace devmodel {

namespace {

// Buffers gathered for one backend call: Linux's IOV_MAX, which preadv and pwritev take.
constexpr size_t kMaxBuffersPerCall = 1024;
// A piece the memory does not reach in place is copied in steps of this many bytes.
constexpr size_t kBounceBytes = size_t{64} << 10;

class Transfer {
public:
    Transfer(BlockBackend& backend, GuestMemory& memory, bool to_guest, uint64_t disk_offset)
        : backend_(backend), memory_(memory), to_guest_(to_guest), disk_offset_(disk_offset) {}
    ~Transfer() { memory_.release_direct(); }
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;

    // Moves one piece of the stream: [gpa, gpa + len).
    BlockTransferResult piece(uint64_t gpa, size_t len, std::string& error) {
        while (len != 0) {
            size_t contiguous = 0;
            uint8_t* at = memory_.direct(gpa, len, contiguous);
            if (!at && !gathered_.empty()) {
                // The memory may hold no more in place: what it holds goes first.
                if (!submit()) return BlockTransferResult::BackendError;
                at = memory_.direct(gpa, len, contiguous);
            }
            if (!at) {
                // Not reachable in place (nothing is gathered now): copied, in order.
                contiguous = std::min(len, kBounceBytes);
                const BlockTransferResult r = bounce(gpa, contiguous, error);
                if (r != BlockTransferResult::Ok) return r;
            } else {
                gathered_.push_back({at, contiguous});
                gathered_bytes_ += contiguous;
                if (gathered_.size() == kMaxBuffersPerCall && !submit()) return BlockTransferResult::BackendError;
            }
            gpa += contiguous;
            len -= contiguous;
        }
        return BlockTransferResult::Ok;
    }

    // The buffers gathered so far, in one backend call; then the memory lets them go.
    bool submit() {
        if (gathered_.empty()) return true;
        const bool ok = to_guest_ ? backend_.read_vector(disk_offset_, gathered_.data(), gathered_.size())
                                  : backend_.write_vector(disk_offset_, gathered_.data(), gathered_.size());
        disk_offset_ += gathered_bytes_;
        gathered_.clear();
        gathered_bytes_ = 0;
        memory_.release_direct();
        return ok;
    }

private:
    BlockTransferResult bounce(uint64_t gpa, size_t len, std::string& error) {
        bounce_.resize(std::max(bounce_.size(), len));
        bool memory_ok;
        if (to_guest_) {
            if (!backend_.read(disk_offset_, bounce_.data(), len)) return BlockTransferResult::BackendError;
            memory_ok = memory_.write(gpa, bounce_.data(), len);
        } else {
            memory_ok = memory_.read(gpa, bounce_.data(), len);
            if (memory_ok && !backend_.write(disk_offset_, bounce_.data(), len))
                return BlockTransferResult::BackendError;
        }
        if (!memory_ok) {
            error = "buffer at " + hex(gpa) + " (" + std::to_string(len) + " bytes) is not guest RAM";
            return BlockTransferResult::RingError;
        }
        disk_offset_ += len;
        return BlockTransferResult::Ok;
    }

    BlockBackend& backend_;
    GuestMemory& memory_;
    bool to_guest_;
    uint64_t disk_offset_;
    std::vector<struct iovec> gathered_;
    uint64_t gathered_bytes_ = 0;
    std::vector<uint8_t> bounce_;
};

}  // namespace

BlockTransferResult block_transfer(BlockBackend& backend, GuestMemory& memory, const DescriptorChain& chain,
                                   bool to_guest, uint64_t stream_offset, uint64_t disk_offset, uint64_t len,
                                   std::string& error) {
    Transfer transfer(backend, memory, to_guest, disk_offset);
    BlockTransferResult result = BlockTransferResult::Ok;
    const bool whole = for_each_chain_piece(chain, to_guest, stream_offset, static_cast<size_t>(len),
                                            [&](uint64_t gpa, size_t n, size_t) {
                                                result = transfer.piece(gpa, n, error);
                                                return result == BlockTransferResult::Ok;
                                            });
    if (result != BlockTransferResult::Ok) return result;
    if (!whole) {
        error = to_guest ? "write past the end of the chain's writable buffers"
                         : "read past the end of the chain's readable buffers";
        return BlockTransferResult::RingError;
    }
    return transfer.submit() ? BlockTransferResult::Ok : BlockTransferResult::BackendError;
}

}  // namespace devmodel
