// DeviceMachine's save and restore: one record per occupied slot, each a function's
// state (virtio_function_state.hpp) behind its slot and length.
//
//   u32 magic "VDMS", u16 version 1, u16 record count,
//   per record: u8 slot, u8 0, u16 0, u32 length, the function's record (length bytes)
#include <string>
#include <utility>
#include <vector>

#include "dom0/devmodel/device_machine.hpp"
#include "dom0/devmodel/little_endian.hpp"

namespace devmodel {

bool DeviceMachine::save(StateOut& out, std::string& error) const {
    std::vector<std::pair<unsigned, std::vector<uint8_t>>> records;
    for (unsigned slot = 0; slot < kSlots; ++slot) {
        if (!slots_[slot]) continue;
        StateOut record;
        if (!slots_[slot]->save(record, error)) return false;
        records.emplace_back(slot, record.data());
    }
    out.u32(kStateMagic);
    out.u16(kStateVersion);
    out.u16(static_cast<uint16_t>(records.size()));
    for (const auto& [slot, bytes] : records) {
        out.u8(static_cast<uint8_t>(slot));
        out.u8(0);
        out.u16(0);
        out.u32(static_cast<uint32_t>(bytes.size()));
        out.bytes(bytes.data(), bytes.size());
    }
    return true;
}

bool DeviceMachine::restore(const uint8_t* data, size_t len, std::string& error) {
    StateIn in(data, len);
    const uint32_t magic = in.u32("the device model state's header");
    const uint16_t version = in.u16("the device model state's header");
    const uint16_t count = in.u16("the device model state's header");
    if (in.ok() && magic != kStateMagic) in.fail("not a vireo-dm device state (magic " + hex(magic) + ")");
    if (in.ok() && version != kStateVersion)
        in.fail("device state version " + std::to_string(version) + ", this vireo-dm reads version " +
                std::to_string(kStateVersion));
    // Decode and check everything first: a blob that fails anywhere changes nothing.
    std::vector<std::pair<unsigned, VirtioFunctionState>> states;
    std::array<bool, kSlots> seen{};
    for (uint16_t i = 0; in.ok() && i < count; ++i) {
        const unsigned slot = in.u8("a function record");
        const uint8_t pad8 = in.u8("a function record");
        const uint16_t pad16 = in.u16("a function record");
        const uint32_t length = in.u32("a function record");
        const std::vector<uint8_t> bytes = in.bytes(length, "a function record");
        if (!in.ok()) break;
        if (pad8 != 0 || pad16 != 0) {
            in.fail("a function record's reserved bytes are not 0");
        } else if (slot >= kSlots || !slots_[slot]) {
            in.fail("a record for slot " + std::to_string(slot) + ", where this device model has no device");
        } else if (seen[slot]) {
            in.fail("two records for slot " + std::to_string(slot));
        } else {
            seen[slot] = true;
            StateIn record(bytes);
            VirtioFunctionState state;
            std::string why;
            if (!decode_function_state(record, state, why) || !record.at_end("the function state")) {
                in.fail("slot " + std::to_string(slot) + ": " + (why.empty() ? record.error() : why));
            } else if (!slots_[slot]->check(state, why)) {
                in.fail("slot " + std::to_string(slot) + ": " + why);
            } else {
                states.emplace_back(slot, std::move(state));
            }
        }
    }
    for (unsigned slot = 0; in.ok() && slot < kSlots; ++slot)
        if (slots_[slot] && !seen[slot]) in.fail("no record for the device in slot " + std::to_string(slot));
    if (!in.at_end("the device model state")) {
        error = in.error();
        return false;
    }
    for (const auto& [slot, state] : states) slots_[slot]->restore(state, error);
    return true;
}

void DeviceMachine::resume() {
    for (const auto& f : slots_)
        if (f) f->resume();
}

}  // namespace devmodel
