// Where a virtio function's interrupts go: an MSI(-X) message (PCI Local Bus 3.0, 6.8:
// a DWORD write of `data` to `address`) into the domU. The functions here have no INTx
// pin, so this is their only interrupt path; the device model process hands the message
// to the hypervisor, which delivers it to the domU's local APICs.
#pragma once

#include <cstdint>

namespace devmodel {

class MsiSink {
public:
    virtual void send_msi(uint64_t address, uint32_t data) = 0;

protected:
    ~MsiSink() = default;
};

}  // namespace devmodel
