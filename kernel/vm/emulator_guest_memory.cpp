#include "kernel/vm/emulator_guest_memory.hpp"

#include <string.h>

namespace {

// One page's part of an access, translated.
struct Piece {
    u64 gpa;
    usize offset;  // into the caller's buffer
    usize length;
};

MemoryOutcome exception(u8 vector, u32 error_code, u64 cr2 = 0) {
    MemoryOutcome out;
    out.status = MemoryStatus::Exception;
    out.exception.vector = vector;
    out.exception.has_error_code = true;
    out.exception.error_code = error_code;
    out.exception.cr2 = cr2;
    return out;
}

MemoryOutcome unhandlable(const char* reason) {
    MemoryOutcome out;
    out.status = MemoryStatus::Unhandlable;
    out.reason = reason;
    return out;
}

MemoryOutcome from_walk(const WalkResult& walk) {
    switch (walk.kind) {
        case WalkResult::PageFault: return exception(kVectorPf, walk.error_code, walk.address);
        case WalkResult::NonCanonical: return exception(kVectorGp, 0);
        case WalkResult::Contended: {
            MemoryOutcome out;
            out.status = MemoryStatus::Retry;
            return out;
        }
        case WalkResult::BadTablePhysical:
        case WalkResult::BadDataPhysical: return unhandlable("the guest's page tables point outside its RAM");
        case WalkResult::Ok: break;
    }
    return {};
}

// Translates the (at most two) pages of the access; `count` pieces on Ok.
MemoryOutcome translate(GuestPhysicalMemory& ram, const GuestPagingState& paging, u64 linear, usize size,
                        GuestAccess access, Piece (&pieces)[2], usize& count) {
    count = 0;
    if (size == 0 || size > kMaxEmulatedAccess) return unhandlable("an emulated access wider than 16 bytes");
    usize done = 0;
    while (done < size) {
        const u64 address = linear + done;
        const usize in_page = usize(kPageSize - (address & (kPageSize - 1)));
        const usize length = in_page < size - done ? in_page : size - done;
        GuestTranslation translation;
        const WalkResult walk = walk_guest_page_tables(ram, paging, address, access, translation);
        if (!walk.ok()) return from_walk(walk);
        pieces[count++] = {translation.gpa, done, length};
        done += length;
    }
    return {};
}

// The largest naturally aligned access of at most 8 bytes that starts at gpa and fits.
u8 mmio_chunk(u64 gpa, usize remaining) {
    for (u8 size = 8; size > 1; size /= 2)
        if (remaining >= size && (gpa & (size - 1)) == 0) return size;
    return 1;
}

}  // namespace

MemoryOutcome emulator_read_linear(GuestPhysicalMemory& ram, const GuestPagingState& paging, GuestMmioSink& mmio,
                                   u64 linear, void* dst, usize size, GuestAccess access) {
    // access.write stays as the emulator gave it: the read of a read-modify-write is
    // checked for write permission, so a write-protection #PF comes before the device
    // sees the read, as on the processor.
    Piece pieces[2];
    usize count = 0;
    const MemoryOutcome translated = translate(ram, paging, linear, size, access, pieces, count);
    if (translated.status != MemoryStatus::Ok) return translated;
    u8* out = static_cast<u8*>(dst);
    for (usize i = 0; i < count; ++i) {
        const Piece& p = pieces[i];
        if (ram.read(p.gpa, out + p.offset, p.length)) continue;
        for (usize done = 0; done < p.length;) {
            const u8 chunk = mmio_chunk(p.gpa + done, p.length - done);
            u64 value = 0;
            if (!mmio.mmio_read(p.gpa + done, chunk, value)) return unhandlable("a read of neither RAM nor a device");
            memcpy(out + p.offset + done, &value, chunk);  // little endian: the low bytes
            done += chunk;
        }
    }
    return {};
}

MemoryOutcome emulator_write_linear(GuestPhysicalMemory& ram, const GuestPagingState& paging, GuestMmioSink& mmio,
                                    u64 linear, const void* src, usize size, GuestAccess access) {
    access.write = true;
    access.fetch = false;
    Piece pieces[2];
    usize count = 0;
    const MemoryOutcome translated = translate(ram, paging, linear, size, access, pieces, count);
    if (translated.status != MemoryStatus::Ok) return translated;
    const u8* in = static_cast<const u8*>(src);
    for (usize i = 0; i < count; ++i) {
        const Piece& p = pieces[i];
        if (ram.write(p.gpa, in + p.offset, p.length)) continue;
        for (usize done = 0; done < p.length;) {
            const u8 chunk = mmio_chunk(p.gpa + done, p.length - done);
            u64 value = 0;
            memcpy(&value, in + p.offset + done, chunk);
            if (!mmio.mmio_write(p.gpa + done, chunk, value)) return unhandlable("a write to neither RAM nor a device");
            done += chunk;
        }
    }
    return {};
}
