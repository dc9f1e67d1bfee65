// A fake of the machine's PCI hardware for the passthrough tests: configuration space by
// function (bytes with per-byte writable masks, so BARs size as the spec says), device
// memory (for MSI-X tables and PBAs), and fakes of the router, listener and APIC bus.
#pragma once

#include <map>
#include <vector>

#include "kernel/vm/devices/passthrough/passthrough_services.hpp"

namespace fake_pci {

inline u32 key(PciBdf bdf) { return u32(bdf.bus) << 8 | u32(bdf.device) << 3 | bdf.function; }

struct Function {
    u8 bytes[4096] = {};
    u8 writable[4096] = {};

    void set(u32 offset, u32 size, u32 value, u32 writable_mask = 0) {
        for (u32 i = 0; i < size; ++i) {
            bytes[offset + i] = u8(value >> (8 * i));
            writable[offset + i] = u8(writable_mask >> (8 * i));
        }
    }
    u32 get(u32 offset, u32 size) const {
        u32 value = 0;
        for (u32 i = 0; i < size; ++i) value |= u32(bytes[offset + i]) << (8 * i);
        return value;
    }
    void ids(u16 vendor, u16 device, u8 header_type) {
        set(0x00, 2, vendor);
        set(0x02, 2, device);
        set(0x0e, 1, header_type);
        set(0x04, 2, 0, 0x0547);  // command: I/O, memory, bus master, parity, SERR, INTx disable
    }
    // A memory BAR of `size` bytes at `base` (64-bit: this register and the next).
    void memory_bar(u32 index, u64 base, u64 size, bool is64 = false) {
        const u64 writable64 = ~(size - 1) & ~0xfull;
        set(0x10 + 4 * index, 4, u32(base) | (is64 ? 4u : 0u), u32(writable64));
        if (is64) set(0x10 + 4 * (index + 1), 4, u32(base >> 32), u32(writable64 >> 32));
    }
    void io_bar(u32 index, u32 base, u32 size) { set(0x10 + 4 * index, 4, base | 1u, ~(size - 1) & ~3u); }
    // Links a capability into the list: `offset` becomes the head, pointing at the old one.
    void capability(u32 offset, u8 id) {
        set(0x06, 2, get(0x06, 2) | 0x10);
        const u32 old_head = get(0x34, 1);
        set(offset, 1, id);
        set(offset + 1, 1, old_head);
        set(0x34, 1, offset);
    }
};

class Bus final : public PciConfigSpace {
public:
    struct Write {
        PciBdf bdf;
        u16 offset;
        u8 size;
        u32 value;
    };

    Function& add(PciBdf bdf) { return functions[key(bdf)]; }
    Function& at(PciBdf bdf) { return functions.at(key(bdf)); }

    u32 config_read(PciBdf bdf, u16 offset, u8 size) override {
        ++reads;
        const auto it = functions.find(key(bdf));
        if (it == functions.end()) return pci_all_ones(size);
        return it->second.get(offset, size);
    }
    void config_write(PciBdf bdf, u16 offset, u8 size, u32 value) override {
        writes.push_back(Write{bdf, offset, size, value});
        const auto it = functions.find(key(bdf));
        if (it == functions.end()) return;
        Function& f = it->second;
        for (u32 i = 0; i < size; ++i) {
            const u8 byte = u8(value >> (8 * i));
            u8& target = f.bytes[offset + i];
            target = u8((target & ~f.writable[offset + i]) | (byte & f.writable[offset + i]));
        }
    }
    // The writes to `offset` of `bdf`, in order.
    std::vector<u32> writes_to(PciBdf bdf, u16 offset) const {
        std::vector<u32> out;
        for (const Write& w : writes) {
            if (w.bdf == bdf && w.offset == offset) out.push_back(w.value);
        }
        return out;
    }

    std::map<u32, Function> functions;
    std::vector<Write> writes;
    usize reads = 0;
};

class Memory final : public DeviceMmio {
public:
    u64 mmio_read(PhysAddr address, u8 size) override {
        reads.push_back(address);
        u64 value = 0;
        for (u32 i = 0; i < size; ++i) value |= u64(byte(address + i)) << (8 * i);
        return value;
    }
    void mmio_write(PhysAddr address, u8 size, u64 value) override {
        writes.push_back(address);
        for (u32 i = 0; i < size; ++i) bytes[address + i] = u8(value >> (8 * i));
    }
    u32 dword(PhysAddr address) const {
        u32 value = 0;
        for (u32 i = 0; i < 4; ++i) value |= u32(byte(address + i)) << (8 * i);
        return value;
    }
    u8 byte(PhysAddr address) const {
        const auto it = bytes.find(address);
        return it == bytes.end() ? 0 : it->second;
    }
    void set_dword(PhysAddr address, u32 value) {
        for (u32 i = 0; i < 4; ++i) bytes[address + i] = u8(value >> (8 * i));
    }

    std::map<u64, u8> bytes;
    std::vector<u64> reads;
    std::vector<u64> writes;
};

// Host vectors from 0x30 up, one per bound source, at the host's APIC 0.
class Router final : public MsiInterruptRouter {
public:
    struct Binding {
        PciBdf bdf;
        u32 source;
        MsiMessage guest;
        u8 vector;
    };

    bool bind(PciBdf bdf, u32 source, const MsiMessage& guest, MsiMessage& host) override {
        ++bind_calls;
        if (fail) return false;
        for (const Binding& b : bound) {
            if (b.bdf == bdf && b.source == source) {
                host = MsiMessage{0xfee00000, b.vector};
                return true;
            }
        }
        bound.push_back(Binding{bdf, source, guest, next_vector});
        host = MsiMessage{0xfee00000, next_vector++};
        return true;
    }
    void unbind(PciBdf bdf, u32 source) override {
        for (auto it = bound.begin(); it != bound.end(); ++it) {
            if (it->bdf == bdf && it->source == source) {
                bound.erase(it);
                ++unbinds;
                return;
            }
        }
        ++bad_unbinds;
    }
    const Binding* find(PciBdf bdf, u32 source) const {
        for (const Binding& b : bound) {
            if (b.bdf == bdf && b.source == source) return &b;
        }
        return nullptr;
    }

    std::vector<Binding> bound;
    u8 next_vector = 0x30;
    bool fail = false;
    int bind_calls = 0;
    int unbinds = 0;
    int bad_unbinds = 0;
};

class Listener final : public PciPassthroughListener {
public:
    struct Move {
        PciBdf bdf;
        u32 bar;  // ~0u for an MSI-X table move
        DeviceRange old_range;
        DeviceRange new_range;
    };
    struct Issue {
        PciBdf bdf;
        PassthroughIssue issue;
    };
    static constexpr u32 kTable = ~0u;

    void memory_bar_moved(PciBdf bdf, u32 bar, DeviceRange old_range, DeviceRange new_range) override {
        moves.push_back(Move{bdf, bar, old_range, new_range});
    }
    bool msix_table_moved(PciBdf bdf, DeviceRange old_range, DeviceRange new_range) override {
        moves.push_back(Move{bdf, kTable, old_range, new_range});
        return new_range.empty() || new_range.base < refuse_from;
    }
    // Table locations at or above this are refused (as host RAM would be).
    u64 refuse_from = ~0ull;
    void report(PciBdf bdf, PassthroughIssue issue) override { issues.push_back(Issue{bdf, issue}); }
    bool kept_by_hypervisor(PciBdf bdf) override {
        for (const PciBdf& k : kept)
            if (k == bdf) return true;
        return false;
    }
    std::vector<PciBdf> kept;

    std::vector<Move> table_moves() const {
        std::vector<Move> out;
        for (const Move& m : moves) {
            if (m.bar == kTable) out.push_back(m);
        }
        return out;
    }
    bool reported(PassthroughIssue issue) const {
        for (const Issue& i : issues) {
            if (i.issue == issue) return true;
        }
        return false;
    }

    std::vector<Move> moves;
    std::vector<Issue> issues;
};

class ApicSink final : public ApicMessageSink {
public:
    u32 send_message(const ApicMessage& message) override {
        messages.push_back(message);
        return 1;
    }
    std::vector<ApicMessage> messages;
};

}  // namespace fake_pci
