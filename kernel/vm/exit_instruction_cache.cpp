#include "kernel/vm/exit_instruction_cache.hpp"

void ExitInstructionCache::remember(GuestPhysicalMemory& memory, const GuestFetchContext& at,
                                    InterceptedInstruction which, const GuestTranslation& translation, const u8* bytes,
                                    u8 length) {
    Entry& e = entries_[slot(at.linear)];
    e.length = 0;
    const u64 in_page = translation.gpa & (kPageSize - 1);
    const u64* source = memory.frames_generation();
    if (length == 0 || length > kMaxLength || in_page + sizeof(e.bytes) > kPageSize || !source) return;
    // Read before the views are taken: a release after it makes the entry miss.
    const u64 generation = __atomic_load_n(source, __ATOMIC_ACQUIRE);
    const auto* code = static_cast<const u8*>(memory.page_view(translation.gpa, sizeof(e.bytes)));
    if (!code) return;
    const GuestWalkPath& path = translation.path;
    for (u32 i = 0; i < path.count; ++i) {
        e.path[i] = memory.page_view(path.gpa[i], path.entry_size);
        if (!e.path[i]) return;
        e.path_value[i] = path.value[i];
    }
    u64 expected = 0, mask = 0;
    for (u32 i = 0; i < length; ++i) {
        if (code[i] != bytes[i]) return;  // changed since the fetch: not worth keeping
        expected |= u64(bytes[i]) << (8 * i);
        mask |= 0xffull << (8 * i);
    }
    e.path_count = u8(path.count);
    e.path_32bit = path.entry_size == 4;
    e.code = code;
    e.bytes = expected;
    e.bytes_mask = mask;
    e.linear = at.linear;
    e.which = which;
    e.mode = at.mode;
    e.cr0 = at.cr0;
    e.cr3 = at.cr3;
    e.cr4 = at.cr4;
    e.efer = at.efer;
    e.generation_source = source;
    e.generation = generation;
    e.length = length;
}

void ExitInstructionCache::clear() {
    for (Entry& e : entries_) e.length = 0;
}
