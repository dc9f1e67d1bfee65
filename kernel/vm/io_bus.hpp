// A domain's I/O port space: device models claim port ranges; the generic I/O exit
// handler dispatches to them. Unclaimed reads return all ones and unclaimed writes are
// dropped, as on a PC bus with nothing there; each unclaimed port is logged once.
#pragma once

#include "kernel/types.hpp"

struct Vcpu;

class IoDevice {
public:
    virtual u32 io_read(Vcpu& vcpu, u16 port, u8 size) = 0;
    virtual void io_write(Vcpu& vcpu, u16 port, u8 size, u32 value) = 0;

protected:
    ~IoDevice() = default;
};

class IoBus {
public:
    static constexpr usize kMaxRanges = 32;

    // False when the range overlaps another or the table is full.
    bool claim(u16 first, u16 last, IoDevice* device);
    // The claimed device at `port`, else the fallback (null when there is none).
    IoDevice* device_at(u16 port) const;
    // The claimed device at `port` only.
    IoDevice* claimed_device_at(u16 port) const;
    // dom0's: the real ports, for accesses no model claims that still exit (an access whose
    // bytes belong to different devices is split by byte: kernel/vm/exit_handlers.cpp).
    void set_fallback(IoDevice* device) { fallback_ = device; }
    // Whether to log an access to an unclaimed `port`: the first time each of the first
    // kMaxLoggedPorts ports is seen (Log), once more for the first port beyond them
    // (LogLast: the caller says the rest are not logged), else Silent. A guest sweeping
    // every port costs 33 lines, not 65,536.
    static constexpr u32 kMaxLoggedPorts = 32;
    enum class PortNote : u8 { Silent, Log, LogLast };
    PortNote note_unclaimed_access(u16 port);

private:
    struct Range {
        u16 first, last;
        IoDevice* device;
    };
    Range ranges_[kMaxRanges] = {};
    usize range_count_ = 0;
    // The range the last lookup found, looked at first: a guest's accesses come in runs
    // to one device (a serial console's two ports per character). Any CPU may update it;
    // a stale index is only a miss, since the range is checked again.
    mutable usize last_hit_ = 0;
    IoDevice* fallback_ = nullptr;
    u64 logged_[65536 / 64] = {};
    u32 logged_count_ = 0;
    bool silenced_ = false;
};
