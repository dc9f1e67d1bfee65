// One function's MSI capability (PCI Local Bus spec 3.0, 6.8.1) as dom0 sees it: dom0's
// message address, data and mask live in a shadow; the hardware gets the host message
// that the router gives (a vector Vireo owns), and when that vector fires, dom0's message
// goes to dom0's APIC bus.
//
// One vector per function: the capability reads Multiple Message Capable 0 (and Multiple
// Message Enable 0, which ignores writes), and the hardware's Multiple Message Enable is
// kept at 0. Granting several would need as many contiguous host vectors, aligned, and a
// driver that was granted fewer than it asked for still works with one (6.8.1.3: the
// function then uses vector 0 for everything), whereas a driver told "4" while the
// hardware sends only one would wait for the others forever.
//
// Per-vector masking, where the function has it, passes through to the hardware, which
// then holds the interrupt pending itself (6.8.1.8); an interrupt the host took just
// before dom0 masked is held in a shadow pending bit and sent when dom0 unmasks it. The
// extended message data (PCIe base spec 4.0, 7.7.1.2) is not offered: its capable bit
// reads 0.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/passthrough/passthrough_services.hpp"

class MsiMediator {
public:
    // Takes the capability at `capability` and switches MSI off in the hardware, which is
    // how dom0 finds it (as after reset, 6.8.1.3).
    void attach(PassthroughServices& services, PciBdf bdf, u16 capability);

    bool present() const { return capability_ != 0; }
    // Whether the configuration dword at `dword_offset` belongs to the capability.
    bool covers(u16 dword_offset) const { return present() && dword_offset >= capability_ && dword_offset < end_; }
    // dom0's view of a dword of the capability, and its write of the lanes `lanes`
    // (`value` already in its place in the dword).
    u32 read_dword(u16 dword_offset);
    void write_dword(u16 dword_offset, u32 value, u32 lanes);

    // The host vector of the function's MSI fired.
    MsiDelivery deliver();

    // Back to the state after reset (6.8.1): disabled, its vector given back, the
    // message 0 and the vector unmasked. For a restart of dom0.
    void reset();

    bool enabled() const { return enabled_; }
    MsiMessage guest_message() const { return MsiMessage{(u64(address_high_) << 32) | address_low_, data_}; }

private:
    u16 data_offset() const { return u16(capability_ + (is_64bit_ ? 0x0c : 0x08)); }
    void set_enable(bool enable);
    void write_hardware_control(bool enable);

    PassthroughServices* services_ = nullptr;
    PciBdf bdf_;
    u16 capability_ = 0;
    u16 end_ = 0;  // first dword after the capability
    bool is_64bit_ = false;
    bool per_vector_masking_ = false;

    // dom0's view.
    u32 address_low_ = 0;
    u32 address_high_ = 0;
    u16 data_ = 0;
    bool enabled_ = false;
    bool masked_ = false;
    bool pending_ = false;

    bool bound_ = false;
    MsiMessage host_message_;
};
