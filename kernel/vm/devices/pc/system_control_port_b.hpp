// Port 0x61, the ICH's NMI Status and Control register (the AT's "port B"): the
// speaker/timer 2 controls and the legacy NMI source bits.
//
//   bit 7  SERR# NMI source status     read only (set_serr_nmi_status)
//   bit 6  IOCHK# NMI source status    read only (set_iochk_nmi_status)
//   bit 5  timer counter 2 OUT         read only (the PIT's OUT2)
//   bit 4  refresh cycle toggle        read only, flips on every read here
//   bit 3  IOCHK# NMI disable          1 disables the source and clears bit 6
//   bit 2  PCI SERR# NMI disable       1 disables the source and clears bit 7
//   bit 1  speaker data enable
//   bit 0  timer counter 2 enable      the PIT's GATE2
//
// The refresh toggle flips every 15.085 us on real hardware; code only ever polls it
// for a change, so it flips on each read, which keeps such loops short and finite.
//
// References: Intel ICH9 datasheet (316972) 13.7.1 "NMI_SC - NMI Status and Control
// Register"; Intel 8254 datasheet for GATE/OUT.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/pc/pit8254_model.hpp"

class StateWriter;
class StateReader;

class SystemControlPortB {
public:
    static constexpr u16 kPort = 0x61;

    explicit SystemControlPortB(Pit8254& pit) : pit_(pit) {}

    // Port 0x61 only; wider accesses are split into byte cycles on consecutive ports,
    // other ports read as 0xff and ignore writes.
    u32 port_read(u16 port, u8 size);
    void port_write(u16 port, u8 size, u32 value);

    bool speaker_data_enabled() const { return control_ & kSpeakerDataEnable; }
    bool serr_nmi_enabled() const { return !(control_ & kSerrNmiDisable); }
    bool iochk_nmi_enabled() const { return !(control_ & kIochkNmiDisable); }
    // The platform's NMI sources; a disabled source cannot set its status.
    void set_serr_nmi_status(bool active);
    void set_iochk_nmi_status(bool active);

    // Save and restore (platform_state_codec.hpp): the writable bits, the refresh toggle
    // and the NMI source status bits. GATE2 is the PIT's (restored with it): restore()
    // does not drive it.
    struct State {
        u8 control;
        bool refresh_toggle, serr_status, iochk_status;
    };
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    static constexpr u8 kTimer2Gate = 0x01;
    static constexpr u8 kSpeakerDataEnable = 0x02;
    static constexpr u8 kSerrNmiDisable = 0x04;
    static constexpr u8 kIochkNmiDisable = 0x08;
    static constexpr u8 kRefreshToggle = 0x10;
    static constexpr u8 kTimer2Out = 0x20;
    static constexpr u8 kIochkNmiStatus = 0x40;
    static constexpr u8 kSerrNmiStatus = 0x80;
    static constexpr u8 kWritable = kTimer2Gate | kSpeakerDataEnable | kSerrNmiDisable | kIochkNmiDisable;

    u8 read_byte(u16 port);
    void write_byte(u16 port, u8 value);

    Pit8254& pit_;
    u8 control_ = 0;  // the writable bits 0-3
    bool refresh_toggle_ = false;
    bool serr_status_ = false;
    bool iochk_status_ = false;
};
