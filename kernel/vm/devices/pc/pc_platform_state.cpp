#include "kernel/vm/devices/pc/pc_platform_state.hpp"

#include "kernel/vm/devices/platform_state_codec.hpp"
#include "kernel/vm/hypercall_abi.hpp"

using namespace pc_state;

static_assert(platform_state::kFormatVersion == hypercall::kPlatformStateVersion);

namespace {

// One record of a model: its payload is what the model's save() writes.
template <typename Model>
void save_record(StateWriter& out, u32 type, const Model& model) {
    out.begin_record(type);
    model.save(out);
    out.end_record();
}

// The record's payload into `out` through the model's load(), which must read all of it.
template <typename Model, typename State>
bool load_record(const StateRecord& record, const Model& model, State& out) {
    StateReader in(record.payload, record.length);
    return model.load(in, out) && in.done();
}

bool load_platform(const StateRecord& record, u32 vcpus, PcClock& clock, PcStateError& error) {
    StateReader in(record.payload, record.length);
    const u32 count = in.get_u32();
    clock.guest_tsc_khz = in.get_u32();
    clock.device_ns = in.get_u64();
    clock.guest_tsc = in.get_u64();
    if (!in.done()) return false;
    if (count != vcpus) {
        error = PcStateError::VcpuCount;
        return false;
    }
    return true;
}

}  // namespace

usize pc_state_save(const PcDevices& d, const PcClock& clock, u8* out, usize capacity) {
    StateWriter w(out, capacity);
    w.begin_record(kPlatform);
    w.put_u32(d.vcpus);
    w.put_u32(clock.guest_tsc_khz);
    w.put_u64(clock.device_ns);
    w.put_u64(clock.guest_tsc);
    w.end_record();
    save_record(w, kPic, d.pic);
    save_record(w, kPit, d.pit);
    save_record(w, kPortB, d.port61);
    save_record(w, kRtc, d.rtc);
    save_record(w, kUart, d.com1);
    save_record(w, kPmBlock, d.pm);
    save_record(w, kI8042, d.kbc);
    save_record(w, kPciHost, d.pci);
    save_record(w, kResetControl, d.reset_control);
    save_record(w, kIoapic, d.ioapic);
    w.begin_record(kKvmClock);
    d.kvm_clock.save(w, d.vcpus);
    w.end_record();
    w.begin_record(kPvEoi);
    d.pv_eoi.save(w, d.vcpus);
    w.end_record();
    w.begin_record(kStealTime);
    d.steal_time.save(w, d.vcpus);
    w.end_record();
    for (u32 i = 0; i < d.vcpus; ++i) {
        w.begin_record(kLapic);
        w.put_u32(i);
        d.lapics[i]->save(w);
        w.end_record();
    }
    return w.finish();
}

const char* pc_state_error_name(PcStateError error) {
    switch (error) {
        case PcStateError::None: return "none";
        case PcStateError::Framing: return "bad header or record framing";
        case PcStateError::UnknownRecord: return "unknown record type";
        case PcStateError::DuplicateRecord: return "record given twice";
        case PcStateError::MissingRecord: return "record missing";
        case PcStateError::VcpuCount: return "local APIC count is not the domain's vCPU count";
        case PcStateError::BadRecord: return "field out of range, or a payload of the wrong length";
    }
    return "?";
}

PcStateError pc_state_load(const PcDevices& d, const u8* in, usize length, PcPlatformState& out, u32* record_type) {
    u32 ignored = 0;
    u32& bad = record_type ? *record_type : ignored;
    bad = 0;
    StateBlob blob(in, length);
    if (blob.check() != StateBlobError::None) return PcStateError::Framing;
    if (d.vcpus > kMaxVcpus) return PcStateError::VcpuCount;
    out.pv_eoi = PvEoi::State{};  // an optional record's state when it is absent
    out.steal_time = StealTime::State{};
    u32 seen = 0;  // bit n: record type n
    u32 lapics_seen = 0;
    StateRecord r;
    while (blob.next(r)) {
        bad = r.type;
        if (r.type < kFirstRecord || r.type > kLastRecord) return PcStateError::UnknownRecord;
        if (r.type != kLapic && (seen & (1u << r.type))) return PcStateError::DuplicateRecord;
        seen |= 1u << r.type;
        bool ok = false;
        PcStateError error = PcStateError::BadRecord;
        switch (r.type) {
            case kPlatform: ok = load_platform(r, d.vcpus, out.clock, error); break;
            case kPic: ok = load_record(r, d.pic, out.pic); break;
            case kPit: ok = load_record(r, d.pit, out.pit); break;
            case kPortB: ok = load_record(r, d.port61, out.port61); break;
            case kRtc: ok = load_record(r, d.rtc, out.rtc); break;
            case kUart: ok = load_record(r, d.com1, out.com1); break;
            case kPmBlock: ok = load_record(r, d.pm, out.pm); break;
            case kI8042: ok = load_record(r, d.kbc, out.kbc); break;
            case kPciHost: ok = load_record(r, d.pci, out.pci); break;
            case kResetControl: ok = load_record(r, d.reset_control, out.reset_control); break;
            case kIoapic: ok = load_record(r, d.ioapic, out.ioapic); break;
            case kKvmClock: {
                StateReader payload(r.payload, r.length);
                ok = d.kvm_clock.load(payload, d.vcpus, out.kvm_clock) && payload.done();
                break;
            }
            case kPvEoi: {
                StateReader payload(r.payload, r.length);
                ok = d.pv_eoi.load(payload, d.vcpus, out.pv_eoi) && payload.done();
                break;
            }
            case kStealTime: {
                StateReader payload(r.payload, r.length);
                ok = d.steal_time.load(payload, d.vcpus, out.steal_time) && payload.done();
                break;
            }
            case kLapic: {
                // The vCPU index first, then that local APIC's own fields.
                StateReader payload(r.payload, r.length);
                const u32 index = payload.get_u32();
                if (payload.failed() || index >= d.vcpus) {
                    error = payload.failed() ? PcStateError::BadRecord : PcStateError::VcpuCount;
                    break;
                }
                if (lapics_seen & (1u << index)) return PcStateError::DuplicateRecord;
                lapics_seen |= 1u << index;
                const StateRecord rest{r.type, r.payload + 4, r.length - 4};
                ok = load_record(rest, *d.lapics[index], out.lapics[index]);
                break;
            }
            default: break;
        }
        if (!ok) return error;
    }
    bad = 0;
    for (u32 type = kFirstRecord; type <= kLastRecord; ++type)
        if (!(seen & (1u << type)) && !(kOptionalRecords & (1u << type))) {
            bad = type;
            return PcStateError::MissingRecord;
        }
    if (lapics_seen != (1u << d.vcpus) - 1) {
        bad = kLapic;
        return PcStateError::VcpuCount;
    }
    return PcStateError::None;
}

void pc_state_restore(const PcDevices& d, const PcPlatformState& s) {
    d.pic.restore(s.pic);
    d.pit.restore(s.pit);
    d.port61.restore(s.port61);
    d.rtc.restore(s.rtc);
    d.com1.restore(s.com1);
    d.pm.restore(s.pm);
    d.reset_control.restore(s.reset_control);
    d.pci.restore(s.pci);
    d.kbc.restore(s.kbc);
    d.ioapic.restore(s.ioapic);
    d.kvm_clock.restore(s.kvm_clock, d.vcpus);
    d.pv_eoi.restore(s.pv_eoi, d.vcpus);
    d.steal_time.restore(s.steal_time, d.vcpus);
    for (u32 i = 0; i < d.vcpus; ++i) d.lapics[i]->restore(s.lapics[i]);
}
