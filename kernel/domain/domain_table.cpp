#include "kernel/domain/domain_table.hpp"

#include <string.h>

#include "kernel/domain/domain.hpp"
#include "kernel/domain/domain_events.hpp"
#include "kernel/domain/id_allocator.hpp"
#include "kernel/spinlock.hpp"

namespace {

SpinLock g_lock;
Domain* g_slots[kMaxDomains];
u32 g_count = 0;
IdAllocator g_ids(1, kMaxDomainId);
bool g_id0_used = false;

}  // namespace

void domain_get(Domain& d) { __atomic_add_fetch(&d.refs, 1, __ATOMIC_ACQ_REL); }

void domain_put(Domain& d) {
    if (__atomic_sub_fetch(&d.refs, 1, __ATOMIC_ACQ_REL) == 0) delete &d;
}

namespace {

bool name_taken_locked(const char* name) {
    for (u32 i = 0; i < kMaxDomains; ++i)
        if (g_slots[i] && strncmp(g_slots[i]->name, name, Domain::kNameLength) == 0) return true;
    return false;
}

}  // namespace

bool domain_name_taken(const char* name) {
    IrqLockGuard guard(g_lock);
    return name_taken_locked(name);
}

bool domain_table_insert(Domain& d, u32 id, const char** error) {
    IrqLockGuard guard(g_lock);
    if (g_count == kMaxDomains) {
        *error = "too many domains (64)";
        return false;
    }
    if (name_taken_locked(d.name)) {
        *error = "a domain of that name exists already";
        return false;
    }
    if (id == 0) {
        if (g_id0_used) {
            *error = "domain 0 exists already";
            return false;
        }
        g_id0_used = true;
    } else {
        id = g_ids.allocate();
        if (id == IdAllocator::kNone) {
            *error = "no free domain id";
            return false;
        }
    }
    d.id = id;
    for (u32 i = 0; i < kMaxDomains; ++i) {
        if (!g_slots[i]) {
            g_slots[i] = &d;
            break;
        }
    }
    ++g_count;
    domain_events::state_changed();
    return true;
}

bool domain_table_rename(Domain& d, const char* name) {
    IrqLockGuard guard(g_lock);
    if (strcmp(d.name, name) == 0) return true;
    if (name_taken_locked(name)) return false;
    char padded[Domain::kNameLength] = {};
    strncpy(padded, name, sizeof(padded) - 1);
    memcpy(d.name, padded, sizeof(padded));
    return true;
}

void domain_table_remove(Domain& d) {
    {
        IrqLockGuard guard(g_lock);
        bool found = false;
        for (u32 i = 0; i < kMaxDomains; ++i) {
            if (g_slots[i] == &d) {
                g_slots[i] = nullptr;
                found = true;
            }
        }
        if (!found) return;
        --g_count;
        if (d.id == 0)
            g_id0_used = false;
        else
            g_ids.release(d.id);
    }
    domain_events::state_changed();
    domain_put(d);
}

DomainRef domain_lookup(u32 id) {
    IrqLockGuard guard(g_lock);
    for (u32 i = 0; i < kMaxDomains; ++i) {
        if (g_slots[i] && g_slots[i]->id == id) {
            domain_get(*g_slots[i]);
            return DomainRef(g_slots[i]);
        }
    }
    return DomainRef();
}

u32 domain_table_snapshot(DomainRef* out, u32 max) {
    IrqLockGuard guard(g_lock);
    u32 n = 0;
    for (u32 i = 0; i < kMaxDomains && n < max; ++i) {
        if (!g_slots[i]) continue;
        domain_get(*g_slots[i]);
        out[n++] = DomainRef(g_slots[i]);
    }
    return n;
}

u32 domain_count() { return __atomic_load_n(&g_count, __ATOMIC_ACQUIRE); }

u32 domain_free_ids() {
    IrqLockGuard guard(g_lock);
    return g_ids.free_count();
}
