// The table of live domains: ids, slots and references. A domain is found by id only
// through a DomainRef, which holds a reference while it is used, so a domain destroyed
// meanwhile is freed only when the last user lets go. Ids come from an IdAllocator
// (round-robin, so a freed id is not handed out again at once).
#pragma once

#include "kernel/types.hpp"

struct Domain;

inline constexpr u32 kMaxDomains = 64;
inline constexpr u32 kMaxDomainId = 0x7fef;  // as Xen's DOMID_FIRST_RESERVED - 1

void domain_get(Domain& domain);
// Drops a reference; the last one frees the object (its resources went earlier).
void domain_put(Domain& domain);

class DomainRef {
public:
    DomainRef() = default;
    explicit DomainRef(Domain* d) : d_(d) {}  // adopts a reference already taken
    DomainRef(const DomainRef&) = delete;
    DomainRef& operator=(const DomainRef&) = delete;
    DomainRef(DomainRef&& other) : d_(other.d_) { other.d_ = nullptr; }
    DomainRef& operator=(DomainRef&& other) {
        if (this != &other) {
            reset();
            d_ = other.d_;
            other.d_ = nullptr;
        }
        return *this;
    }
    ~DomainRef() { reset(); }
    void reset() {
        if (d_) domain_put(*d_);
        d_ = nullptr;
    }
    Domain* get() const { return d_; }
    Domain* operator->() const { return d_; }
    Domain& operator*() const { return *d_; }
    explicit operator bool() const { return d_ != nullptr; }

private:
    Domain* d_ = nullptr;
};

// Gives `domain` an id and a slot (the table holds the reference it was created with).
// False with `error` when the table is full. `id` 0 asks for id 0 (the service domain);
// ~0u for any free id from 1.
bool domain_table_insert(Domain& domain, u32 id, const char** error);
// Whether a domain in the table (running or ended, not yet destroyed) has this name. Names
// are unique, as on Xen: console lines and `xm` commands name domains by them.
// Gives `domain` the name (a valid one, NUL-terminated), unless another domain has it.
bool domain_table_rename(Domain& domain, const char* name);
bool domain_name_taken(const char* name);
// Takes the domain out of the table: its id becomes free and the table's reference is
// dropped.
void domain_table_remove(Domain& domain);
// The domain with this id, if it is in the table.
DomainRef domain_lookup(u32 id);
// References to every domain in the table, in slot order; returns how many (<= max).
u32 domain_table_snapshot(DomainRef* out, u32 max);
u32 domain_count();
u32 domain_free_ids();
