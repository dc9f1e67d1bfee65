// One function's MSI-X capability and table (PCI Local Bus spec 3.0, 6.8.2) as dom0 sees
// them. dom0's table entries (address, data, vector control) live in a shadow; each
// hardware entry holds either the host message of its source with its mask clear, or its
// mask set. It is unmasked only while dom0 has MSI-X enabled and that entry unmasked,
// and is bound to a host vector from its first such moment until dom0 disables MSI-X.
// Message Control's enable and function mask are dom0's and pass through, except that
// the hardware's function mask stays set while the hardware table could not be brought
// up to date (memory decoding off): a stale entry never fires.
//
// An interrupt that arrives while dom0 has its entry or the function masked sets the
// entry's pending bit in a shadow PBA, which dom0 reads together with the hardware PBA,
// and is sent when dom0 unmasks it (6.8.2.9; PCIe base spec 6.1.4.5). The hardware masks
// as dom0 does, so it holds most of these itself; the shadow catches the ones already on
// their way to the host. The shadow bits show only where the PBA shares the table's
// trapped pages (PciPassthrough::msix_page_read); a PBA in a page of its own is read
// straight from the hardware.
//
// Limit: kMaxEntries entries. A larger table reads as kMaxEntries long (Table Size is
// read-only to dom0, and drivers use only what it says, 6.8.2.3); the entries past it
// stay masked in the hardware.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/passthrough/passthrough_services.hpp"

class MsixMediator {
public:
    static constexpr u32 kMaxEntries = 64;
    // Size in bytes of one table entry (6.8.2.6-9).
    static constexpr u32 kEntrySize = 16;
    // Table and PBA offsets are QWORD aligned; the low 3 bits of their registers are
    // the BAR indicator (6.8.2.4-5).
    static constexpr u32 kBarIndicatorMask = 7;

    // Takes the capability at `capability` and switches MSI-X off in the hardware, which
    // is how dom0 finds it (as after reset, 6.8.2.3).
    void attach(PassthroughServices& services, PciBdf bdf, u16 capability);

    bool present() const { return capability_ != 0; }
    u16 capability() const { return capability_; }
    u32 hardware_entries() const { return hardware_entries_; }
    u32 visible_entries() const { return hardware_entries_ < kMaxEntries ? hardware_entries_ : kMaxEntries; }
    u8 table_bar() const { return u8(table_register_ & kBarIndicatorMask); }
    u32 table_offset() const { return table_register_ & ~kBarIndicatorMask; }
    u8 pba_bar() const { return u8(pba_register_ & kBarIndicatorMask); }
    u32 pba_offset() const { return pba_register_ & ~kBarIndicatorMask; }
    u32 table_bytes() const { return hardware_entries_ * kEntrySize; }
    // One pending bit per entry, in QWORDs (6.8.2.10).
    u32 pba_bytes() const { return (hardware_entries_ + 63) / 64 * 8; }

    // The table is in no usable memory BAR: the hardware's MSI-X stays off for good.
    void set_unusable() { usable_ = false; }
    bool usable() const { return usable_; }
    // Where the hardware table and PBA are now, host-physical; 0 while the function does
    // not decode them. Brings the hardware table up to date when it becomes reachable.
    void set_location(u64 table_address, u64 pba_address);
    u64 table_address() const { return table_address_; }
    u64 pba_address() const { return pba_address_; }

    // dom0's view of the capability's first dword (ID, next pointer, Message Control) and
    // its writes to it; the Table Offset/BIR and PBA Offset/BIR dwords are read-only and
    // pass through.
    u32 read_control_dword();
    void write_control_dword(u32 value, u32 lanes);

    // dom0's accesses to the table, by offset from its start (6.8.2: DWORD or aligned
    // QWORD; narrower ones inside a DWORD work too), and reads of the PBA.
    u64 table_read(u32 offset, u8 size) const;
    void table_write(u32 offset, u8 size, u64 value);
    u64 pba_read(u32 offset, u8 size);

    // The host vector of entry `entry` fired.
    MsiDelivery deliver(u32 entry);

    // Back to the state after reset (6.8.2): disabled, every vector given back, every
    // entry 0 and masked. For a restart of dom0.
    void reset();

    bool enabled() const { return enabled_; }
    bool function_masked() const { return function_masked_; }
    MsiMessage guest_message(u32 entry) const;
    bool entry_masked(u32 entry) const { return entries_[entry].vector_control & kVectorMasked; }
    bool entry_pending(u32 entry) const { return entries_[entry].pending; }

private:
    static constexpr u32 kVectorMasked = 1u << 0;

    struct Entry {
        u32 address_low = 0;
        u32 address_high = 0;
        u32 data = 0;
        // Only the mask bit: the others are reserved (6.8.2.9). Masked at reset.
        u32 vector_control = kVectorMasked;
        bool bound = false;
        bool pending = false;
        MsiMessage host_message;
    };

    u32 entry_dword(u32 entry, u32 index) const;
    void write_entry_dword(u32 entry, u32 index, u32 value, u32 lanes);
    void sync_hardware_table();
    void program_entry(u32 entry);
    void mask_hardware_entry(u32 entry);
    void write_hardware_control();
    void send_pending();
    void unbind_all();

    PassthroughServices* services_ = nullptr;
    PciBdf bdf_;
    u16 capability_ = 0;
    u32 hardware_entries_ = 0;
    u32 table_register_ = 0;
    u32 pba_register_ = 0;
    bool usable_ = true;
    u64 table_address_ = 0;
    u64 pba_address_ = 0;
    // The hardware table matches the shadow (false after a change it could not take).
    bool hardware_synced_ = false;

    // dom0's view.
    bool enabled_ = false;
    bool function_masked_ = false;
    Entry entries_[kMaxEntries];
};
