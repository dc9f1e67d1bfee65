// The device model's MsiSink: a virtio function's MSI-X messages go to the hypervisor,
// which injects them into the domU (the inject_msi call, docs/hypercalls.md). A refusal
// is logged once, not for every interrupt that follows it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "dom0/devmodel/ioreq_channel.hpp"
#include "dom0/devmodel/log_sink.hpp"
#include "dom0/devmodel/msi_sink.hpp"

namespace devmodel {

class HypervisorMsi final : public MsiSink {
public:
    HypervisorMsi(IoreqChannel& channel, LogSink log) : channel_(channel), log_(std::move(log)) {}
    void send_msi(uint64_t address, uint32_t data) override {
        const int64_t result = channel_.inject_msi(address, data);
        if (result < 0 && !reported_) {
            char line[128];
            snprintf(line, sizeof(line), "an interrupt (MSI %#llx/%#x) was refused: error %lld",
                     static_cast<unsigned long long>(address), data, static_cast<long long>(result));
            log_(line);
            reported_ = true;
        }
    }

private:
    IoreqChannel& channel_;
    LogSink log_;
    bool reported_ = false;
};

}  // namespace devmodel
