// A domU's virtio PCI functions: device numbers (slots) on bus 0, function 0 each,
// chosen by the caller, and the accesses the hypervisor forwards to them. A
// configuration access to a bus, device or function with nothing there reads all ones
// and writes nothing (PCI 3.0, 6.1: a master abort); a memory access that no enabled
// BAR0 holds reads all ones and writes nothing.
//
// BAR0s start where firmware would put them: slot n's at mmio_base + n * 32 KiB (inside
// the domU's PCI hole, which the caller picks), with memory decoding left off, as Linux
// turns it on itself when its driver enables the device.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dom0/devmodel/virtio_pci_function.hpp"

namespace devmodel {

class DeviceMachine {
public:
    static constexpr unsigned kSlots = 32;
    static constexpr uint64_t kBarStride = VirtioPciFunction::kBar0Size;

    // BAR0s at mmio_base + slot * kBarStride: mmio_base 32 KiB-aligned, and the last
    // slot's BAR below 4 GiB (it is a 32-bit BAR).
    explicit DeviceMachine(uint64_t mmio_base) : mmio_base_(mmio_base) {}

    // Puts `function` at bus 0, device `slot`, function 0, and assigns its BAR0. False
    // (with `error`) when the slot is taken or out of range, or the BAR would not fit.
    bool add(unsigned slot, std::unique_ptr<VirtioPciFunction> function, std::string& error);
    VirtioPciFunction* function(unsigned slot) const;

    // bdf: bus << 8 | device << 3 | function. size 1, 2 or 4.
    uint32_t pci_config_read(uint16_t bdf, uint32_t reg, unsigned size);
    void pci_config_write(uint16_t bdf, uint32_t reg, unsigned size, uint32_t value);

    // size 1, 2, 4 or 8.
    uint64_t mmio_read(uint64_t gpa, unsigned size);
    void mmio_write(uint64_t gpa, unsigned size, uint64_t value);

    // Save and restore of every function (device_machine_state.cpp; the "devices"
    // section of docs/save-format.md). save() with the domain paused and every forwarded
    // access answered. restore() takes a blob save() wrote for the same functions in the
    // same slots: every record is decoded and checked before any function changes, so a
    // refused blob (false, `error`) leaves the machine as it was. resume() afterwards,
    // with the domU's memory in place and before it runs.
    static constexpr uint32_t kStateMagic = 0x534d4456;  // "VDMS"
    static constexpr uint16_t kStateVersion = 1;
    bool save(StateOut& out, std::string& error) const;
    bool restore(const uint8_t* data, size_t len, std::string& error);
    void resume();

    static uint16_t bdf(unsigned bus, unsigned device, unsigned function) {
        return static_cast<uint16_t>(bus << 8 | device << 3 | function);
    }

private:
    VirtioPciFunction* at_bdf(uint16_t bdf) const;

    uint64_t mmio_base_;
    std::array<std::unique_ptr<VirtioPciFunction>, kSlots> slots_;
};

}  // namespace devmodel
