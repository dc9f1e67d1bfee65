#include "dom0/devmodel/device_machine.hpp"

#include "dom0/devmodel/little_endian.hpp"
#include "kernel/vm/devices/pci_config_space.hpp"

namespace devmodel {

namespace {

uint64_t all_ones(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

}  // namespace

bool DeviceMachine::add(unsigned slot, std::unique_ptr<VirtioPciFunction> function, std::string& error) {
    if (slot >= kSlots) {
        error = "PCI device " + std::to_string(slot) + " is not 0-31";
        return false;
    }
    if (slots_[slot] != nullptr) {
        error = "PCI device " + std::to_string(slot) + " is taken";
        return false;
    }
    const uint64_t base = mmio_base_ + slot * kBarStride;
    if (mmio_base_ % kBarStride != 0 || base == 0 || base + kBarStride > (1ull << 32)) {
        error = "a 32-bit BAR cannot be at " + hex(base);
        return false;
    }
    function->config_write(pci_config::kBar0, 4, static_cast<uint32_t>(base));
    slots_[slot] = std::move(function);
    return true;
}

VirtioPciFunction* DeviceMachine::function(unsigned slot) const { return slot < kSlots ? slots_[slot].get() : nullptr; }

VirtioPciFunction* DeviceMachine::at_bdf(uint16_t bdf) const {
    const unsigned bus = bdf >> 8, device = (bdf >> 3) & 0x1f, fn = bdf & 7;
    if (bus != 0 || fn != 0) return nullptr;
    return slots_[device].get();
}

uint32_t DeviceMachine::pci_config_read(uint16_t bdf, uint32_t reg, unsigned size) {
    VirtioPciFunction* f = at_bdf(bdf);
    if (f == nullptr) return static_cast<uint32_t>(all_ones(size));
    return f->config_read(reg, size);
}

void DeviceMachine::pci_config_write(uint16_t bdf, uint32_t reg, unsigned size, uint32_t value) {
    if (VirtioPciFunction* f = at_bdf(bdf)) f->config_write(reg, size, value);
}

uint64_t DeviceMachine::mmio_read(uint64_t gpa, unsigned size) {
    uint64_t value = 0;
    for (const auto& f : slots_)
        if (f != nullptr && f->mmio_read(gpa, size, value)) return value;
    return all_ones(size);
}

void DeviceMachine::mmio_write(uint64_t gpa, unsigned size, uint64_t value) {
    for (const auto& f : slots_)
        if (f != nullptr && f->mmio_write(gpa, size, value)) return;
}

}  // namespace devmodel
