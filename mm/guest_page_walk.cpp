#include "mm/guest_page_walk.hpp"

#include "kernel/assert.hpp"

namespace {

// Control-register and EFER bits (SDM vol. 3A 2.5 and 2.2.1).
constexpr u64 kCr0Wp = 1ull << 16;
constexpr u64 kCr0Pg = 1ull << 31;
constexpr u64 kCr4Pse = 1ull << 4;
constexpr u64 kCr4Pae = 1ull << 5;
constexpr u64 kCr4La57 = 1ull << 12;
constexpr u64 kCr4Smep = 1ull << 20;
constexpr u64 kCr4Smap = 1ull << 21;
constexpr u64 kEferLma = 1ull << 10;
constexpr u64 kEferNxe = 1ull << 11;

// Paging-structure entry bits common to every mode (SDM vol. 3A tables 4-4 to 4-20).
constexpr u64 kPresent = 1ull << 0;
constexpr u64 kWritable = 1ull << 1;
constexpr u64 kUser = 1ull << 2;
constexpr u64 kAccessed = 1ull << 5;
constexpr u64 kDirty = 1ull << 6;
constexpr u64 kPageSizeBit = 1ull << 7;
constexpr u64 kExecuteDisable = 1ull << 63;

constexpr u64 k32BitMask = 0xffffffffull;

// Bits hi..lo inclusive; empty when hi < lo.
constexpr u64 bit_range(u32 hi, u32 lo) {
    if (hi < lo) return 0;
    const u64 upto_hi = hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1;
    return upto_hi & ~((1ull << lo) - 1);
}

struct UsedEntry {
    u64 gpa;
    u64 value;
    u32 size;
};

// One translation request, with everything derived from the paging state once.
struct Walker {
    GuestPhysicalMemory& memory;
    const GuestPagingState& state;
    GuestPagingMode mode;
    u64 linear;  // truncated to 32 bits outside IA-32e mode
    bool write;
    bool fetch;
    bool user_access;
    bool implicit;
    bool nxe;
    u32 maxphyaddr;

    u32 error_code_base() const {
        u32 code = 0;
        if (write) code |= kPfWrite;
        if (user_access) code |= kPfUser;
        // I/D is reported only with SMEP, or with NXE in PAE/4-level/5-level paging (SDM 4.7).
        const bool pae_nxe = mode != GuestPagingMode::Bits32 && nxe;
        if (fetch && ((state.cr4 & kCr4Smep) != 0 || pae_nxe)) code |= kPfFetch;
        return code;
    }

    WalkResult page_fault(u32 flags) const { return {WalkResult::PageFault, error_code_base() | flags, linear}; }
    static WalkResult bad_table(u64 gpa) { return {WalkResult::BadTablePhysical, 0, gpa}; }

    // Reserved bits of a present 8-byte entry at `level` (PAE below the PDPT, 4-level and
    // 5-level): SDM tables 4-9 to 4-11 and 4-14 to 4-20.
    u64 reserved_bits(u32 level, u64 e) const {
        u64 r = mode == GuestPagingMode::Pae ? bit_range(62, maxphyaddr) : bit_range(51, maxphyaddr);
        if (!nxe) r |= kExecuteDisable;
        if (level >= 4) {
            r |= kPageSizeBit;  // PML4E, PML5E
        } else if ((e & kPageSizeBit) != 0) {
            if (level == 3) r |= state.page_1gb ? bit_range(29, 13) : kPageSizeBit;
            if (level == 2) r |= bit_range(20, 13);
        }
        return r;
    }

    // One pass over the tables; `retry` when an A/D update lost a race with the guest.
    WalkResult walk_once(GuestTranslation& out, bool update_ad, bool& retry) const;
    bool permitted(bool page_writable, bool page_user, bool page_executable) const;
};

bool Walker::permitted(bool page_writable, bool page_user, bool page_executable) const {
    const bool wp = (state.cr0 & kCr0Wp) != 0;
    if (user_access) {
        if (!page_user) return false;
        if (write && !page_writable) return false;
        if (fetch && !page_executable) return false;
        return true;
    }
    // Supervisor-mode access (SDM 4.6.1).
    if (fetch) {
        if (!page_executable) return false;
        if (page_user && (state.cr4 & kCr4Smep) != 0) return false;
        return true;
    }
    if (write && !page_writable && wp) return false;
    if (page_user && (state.cr4 & kCr4Smap) != 0) {
        // Explicit accesses are exempt with RFLAGS.AC = 1; implicit ones never are.
        if (implicit || !state.rflags_ac) return false;
    }
    return true;
}

WalkResult Walker::walk_once(GuestTranslation& out, bool update_ad, bool& retry) const {
    retry = false;
    UsedEntry out_path_pdpte = {0, 0, 0};
    const u64 addr_mask = bit_range(maxphyaddr - 1, 12);
    const bool bits32 = mode == GuestPagingMode::Bits32;
    const u32 entry_size = bits32 ? 4 : 8;
    const u32 index_bits = bits32 ? 10 : 9;

    u64 table = 0;
    u32 level = 0;
    if (bits32) {
        table = state.cr3 & 0xfffff000ull;
        level = 2;
    } else if (mode == GuestPagingMode::Pae) {
        // The PDPT: four 8-byte entries at CR3[31:5], without R/W or U/S (SDM table 4-8).
        // Bits 2:1, 8:6 and 63:MAXPHYADDR are reserved. Bit 5 is not checked: Intel
        // reserves it, but AMD processors walk PAE PDPEs like any other level and set
        // their accessed bit (as QEMU's model of them does), so a PAE guest finds it set;
        // this walker never sets it.
        const usize i = (linear >> 30) & 3;
        const u64 pdpte_gpa = (state.cr3 & 0xffffffe0ull) + i * 8;
        u64 pdpte = 0;
        if (state.use_pae_pdptes) {
            pdpte = state.pae_pdptes[i];
        } else if (!memory.read(pdpte_gpa, &pdpte, sizeof(pdpte))) {
            return bad_table(pdpte_gpa);
        } else {
            out_path_pdpte = {pdpte_gpa, pdpte, 8};
        }
        if ((pdpte & kPresent) == 0) return page_fault(0);
        if ((pdpte & (bit_range(2, 1) | bit_range(8, 6) | bit_range(63, maxphyaddr))) != 0)
            return page_fault(kPfPresent | kPfReserved);
        table = pdpte & addr_mask;
        level = 2;
    } else {
        table = state.cr3 & addr_mask;
        level = mode == GuestPagingMode::Level5 ? 5 : 4;
    }

    UsedEntry used[5] = {};
    u32 used_count = 0;
    bool page_writable = true;
    bool page_user = true;
    bool page_executable = true;
    u64 gpa = 0;
    u64 page_size = 0;
    for (;;) {
        const u32 shift = 12 + index_bits * (level - 1);
        const u64 index = (linear >> shift) & ((1ull << index_bits) - 1);
        const u64 entry_gpa = table + index * entry_size;
        u64 e = 0;
        if (bits32) {
            u32 e32 = 0;
            if (!memory.read(entry_gpa, &e32, sizeof(e32))) return bad_table(entry_gpa);
            e = e32;
        } else if (!memory.read(entry_gpa, &e, sizeof(e))) {
            return bad_table(entry_gpa);
        }
        if ((e & kPresent) == 0) return page_fault(0);

        bool leaf = level == 1;
        if (bits32) {
            // PS selects a 4 MiB page only with CR4.PSE; otherwise it is ignored (SDM 4.3).
            const bool large = level == 2 && (e & kPageSizeBit) != 0 && (state.cr4 & kCr4Pse) != 0;
            if (large) {
                // PSE-36: PDE bits (M-20):13 are address bits (M-1):32 with M = min(MAXPHYADDR,
                // 40); bits 21:(M-19) are reserved (SDM table 4-4).
                const u32 m = maxphyaddr < 40 ? maxphyaddr : 40;
                if ((e & bit_range(21, m - 19)) != 0) return page_fault(kPfPresent | kPfReserved);
                leaf = true;
            }
        } else {
            if ((e & reserved_bits(level, e)) != 0) return page_fault(kPfPresent | kPfReserved);
            if (level <= 3 && (e & kPageSizeBit) != 0) leaf = true;
        }

        used[used_count++] = {entry_gpa, e, entry_size};
        if ((e & kWritable) == 0) page_writable = false;
        if ((e & kUser) == 0) page_user = false;
        if (nxe && (e & kExecuteDisable) != 0) page_executable = false;

        if (leaf) {
            page_size = 1ull << shift;
            u64 base = 0;
            if (bits32 && level == 2) {
                // Bits 20:13 hold address bits 39:32; those at or above MAXPHYADDR were
                // rejected as reserved above.
                base = (e & 0xffc00000ull) | (((e >> 13) & 0xffull) << 32);
            } else if (bits32) {
                base = e & 0xfffff000ull;
            } else {
                base = e & addr_mask & ~(page_size - 1);  // bit 12 of a large page is PAT
            }
            gpa = base | (linear & (page_size - 1));
            break;
        }
        table = bits32 ? (e & 0xfffff000ull) : (e & addr_mask);
        --level;
    }

    if (!permitted(page_writable, page_user, page_executable)) return page_fault(kPfPresent);

    if (update_ad) {
        // SDM 4.8: A in every entry used, D in the one that maps the page for a write.
        for (u32 i = 0; i < used_count; ++i) {
            const UsedEntry& u = used[i];
            u64 desired = u.value | kAccessed;
            if (write && i + 1 == used_count) desired |= kDirty;
            if (desired == u.value) continue;
            bool exchanged = false;
            if (!memory.compare_exchange(u.gpa, u.value, desired, u.size, exchanged)) return bad_table(u.gpa);
            if (!exchanged) {
                retry = true;
                return {};
            }
        }
    }

    out.gpa = gpa;
    out.page_size = page_size;
    out.writable = page_writable;
    out.user = page_user;
    out.executable = page_executable;
    GuestWalkPath& path = out.path;
    path.count = 0;
    path.entry_size = u8(entry_size);
    if (out_path_pdpte.size) {
        path.gpa[path.count] = out_path_pdpte.gpa;
        path.value[path.count++] = out_path_pdpte.value;
    }
    for (u32 i = 0; i < used_count; ++i) {
        path.gpa[path.count] = used[i].gpa;
        path.value[path.count++] = used[i].value;
    }
    return {};
}

bool canonical(u64 linear, u32 bits) {
    const u32 unused = 64 - bits;
    return static_cast<u64>(static_cast<i64>(linear << unused) >> unused) == linear;
}

WalkResult walk(GuestPhysicalMemory& memory, const GuestPagingState& state, u64 linear, GuestAccess access,
                GuestTranslation& out, bool update_ad) {
    VIREO_ASSERT(state.maxphyaddr >= 32 && state.maxphyaddr <= 52);
    const GuestPagingMode mode = guest_paging_mode(state);
    const bool long_mode = mode == GuestPagingMode::Level4 || mode == GuestPagingMode::Level5;
    if (!long_mode) linear &= k32BitMask;
    if (mode == GuestPagingMode::Level4 && !canonical(linear, 48)) return {WalkResult::NonCanonical, 0, linear};
    if (mode == GuestPagingMode::Level5 && !canonical(linear, 57)) return {WalkResult::NonCanonical, 0, linear};
    if (mode == GuestPagingMode::None) {
        out.path = {};
        out.gpa = linear;
        out.page_size = kPageSize;
        out.writable = true;
        out.user = true;
        out.executable = true;
        return {};
    }

    const bool implicit = access.implicit_supervisor;
    const Walker walker{
        .memory = memory,
        .state = state,
        .mode = mode,
        .linear = linear,
        .write = access.write && !access.fetch,
        .fetch = access.fetch,
        .user_access = !implicit && (access.user || state.cpl == 3),
        .implicit = implicit,
        .nxe = (state.efer & kEferNxe) != 0,
        .maxphyaddr = state.maxphyaddr,
    };
    for (u32 attempt = 0; attempt < kMaxWalkAttempts; ++attempt) {
        bool retry = false;
        const WalkResult r = walker.walk_once(out, update_ad, retry);
        if (!retry) return r;
    }
    return {WalkResult::Contended, 0, linear};
}

u64 linear_mask(const GuestPagingState& state) {
    const GuestPagingMode mode = guest_paging_mode(state);
    return mode == GuestPagingMode::Level4 || mode == GuestPagingMode::Level5 ? ~0ull : k32BitMask;
}

// Reads into dst, or writes from src when is_write.
bool copy_guest_virtual(GuestPhysicalMemory& memory, const GuestPagingState& state, u64 linear, u8* dst, const u8* src,
                        bool is_write, usize len, GuestAccess access, WalkFault& fault) {
    access.write = is_write;
    if (is_write) access.fetch = false;
    const u64 mask = linear_mask(state);

    // Pass 1 checks every page without changing anything; pass 2 sets A/D and copies.
    // A read without paging changes nothing (no tables, no A/D bits to set, the copy
    // goes to the caller's buffer only): pass 2 alone finds the same fault.
    const bool check_first = is_write || guest_paging_mode(state) != GuestPagingMode::None;
    for (u32 pass = check_first ? 1 : 2; pass <= 2; ++pass) {
        u64 next = linear;
        usize done = 0;
        while (done < len) {
            const u64 page_linear = next & mask;
            const u64 room = kPageSize - (page_linear & (kPageSize - 1));
            const usize chunk = len - done < room ? len - done : static_cast<usize>(room);
            GuestTranslation t;
            const WalkResult r = walk(memory, state, page_linear, access, t, pass == 2);
            if (!r.ok()) {
                fault = r;
                return false;
            }
            bool backed = true;
            if (pass == 1) {
                u8 probe = 0;
                backed = memory.read(t.gpa, &probe, 1) && memory.read(t.gpa + chunk - 1, &probe, 1);
            } else if (is_write) {
                backed = memory.write(t.gpa, src + done, chunk);
            } else {
                backed = memory.read(t.gpa, dst + done, chunk);
            }
            if (!backed) {
                fault = {WalkResult::BadDataPhysical, 0, t.gpa};
                return false;
            }
            next = page_linear + chunk;
            done += chunk;
        }
    }
    return true;
}

}  // namespace

GuestPagingMode guest_paging_mode(const GuestPagingState& state) {
    if ((state.cr0 & kCr0Pg) == 0) return GuestPagingMode::None;
    if ((state.cr4 & kCr4Pae) == 0) return GuestPagingMode::Bits32;
    if ((state.efer & kEferLma) == 0) return GuestPagingMode::Pae;
    return (state.cr4 & kCr4La57) != 0 ? GuestPagingMode::Level5 : GuestPagingMode::Level4;
}

const char* walk_result_name(WalkResult::Kind kind) {
    switch (kind) {
        case WalkResult::Ok: return "ok";
        case WalkResult::PageFault: return "page fault";
        case WalkResult::BadTablePhysical: return "paging structure not in guest RAM";
        case WalkResult::BadDataPhysical: return "data not in guest RAM";
        case WalkResult::NonCanonical: return "non-canonical address";
        case WalkResult::Contended: return "page tables changing concurrently";
    }
    return "unknown walk result";
}

WalkResult walk_guest_page_tables(GuestPhysicalMemory& memory, const GuestPagingState& state, u64 linear,
                                  GuestAccess access, GuestTranslation& out) {
    return walk(memory, state, linear, access, out, true);
}

bool read_guest_virtual(GuestPhysicalMemory& memory, const GuestPagingState& state, u64 linear, void* dst, usize len,
                        GuestAccess access, WalkFault& fault) {
    return copy_guest_virtual(memory, state, linear, static_cast<u8*>(dst), nullptr, false, len, access, fault);
}

bool write_guest_virtual(GuestPhysicalMemory& memory, const GuestPagingState& state, u64 linear, const void* src,
                         usize len, GuestAccess access, WalkFault& fault) {
    return copy_guest_virtual(memory, state, linear, nullptr, static_cast<const u8*>(src), true, len, access, fault);
}
