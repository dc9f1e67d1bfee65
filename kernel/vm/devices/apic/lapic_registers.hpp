// The local APIC's register offsets in the xAPIC page and the bits the model uses (Intel
// SDM vol. 3A, Table 11-1 and 11.5-11.9; AMD APM vol. 2, 16.3-16.6). In x2APIC mode
// register `offset` is MSR 0x800 + offset / 16 (SDM 11.12.1.2, Table 11-6).
#pragma once

#include "kernel/types.hpp"

namespace lapic {

inline constexpr u32 kId = 0x020;
inline constexpr u32 kVersion = 0x030;
inline constexpr u32 kTpr = 0x080;
inline constexpr u32 kApr = 0x090;
inline constexpr u32 kPpr = 0x0a0;
inline constexpr u32 kEoi = 0x0b0;
inline constexpr u32 kRrd = 0x0c0;
inline constexpr u32 kLdr = 0x0d0;
inline constexpr u32 kDfr = 0x0e0;
inline constexpr u32 kSvr = 0x0f0;
inline constexpr u32 kIsr = 0x100;  // 8 registers, 16 bytes apart: vectors 32*i..32*i+31
inline constexpr u32 kTmr = 0x180;
inline constexpr u32 kIrr = 0x200;
inline constexpr u32 kEsr = 0x280;
inline constexpr u32 kLvtCmci = 0x2f0;  // reserved here: the model has 6 LVT entries
inline constexpr u32 kIcrLow = 0x300;
inline constexpr u32 kIcrHigh = 0x310;
inline constexpr u32 kLvtTimer = 0x320;
inline constexpr u32 kLvtThermal = 0x330;
inline constexpr u32 kLvtPerformance = 0x340;
inline constexpr u32 kLvtLint0 = 0x350;
inline constexpr u32 kLvtLint1 = 0x360;
inline constexpr u32 kLvtError = 0x370;
inline constexpr u32 kTimerInitialCount = 0x380;
inline constexpr u32 kTimerCurrentCount = 0x390;
inline constexpr u32 kTimerDivide = 0x3e0;
inline constexpr u32 kSelfIpi = 0x3f0;  // x2APIC only (SDM 11.12.11)

inline constexpr u32 kMmioSize = 0x1000;
inline constexpr u32 kX2apicMsrFirst = 0x800;
inline constexpr u32 kX2apicMsrLast = 0x8ff;
inline constexpr u32 kApicBaseMsr = 0x1b;
inline constexpr u32 kTscDeadlineMsr = 0x6e0;

// Version register (SDM 11.4.8): version 0x14 (integrated APIC), max LVT entry 5 (six
// entries: timer, thermal, performance, LINT0, LINT1, error) as QEMU reports; bit 24
// advertises EOI-broadcast suppression.
inline constexpr u32 kVersionValue = 0x00050014;
inline constexpr u32 kVersionEoiSuppression = 1u << 24;

// Spurious-interrupt vector register (SDM 11.9).
inline constexpr u32 kSvrVectorMask = 0xff;
inline constexpr u32 kSvrEnable = 1u << 8;
inline constexpr u32 kSvrFocusDisable = 1u << 9;
inline constexpr u32 kSvrSuppressEoiBroadcast = 1u << 12;

// LVT fields (SDM 11.5.1, Figure 11-8).
inline constexpr u32 kLvtVectorMask = 0xff;
inline constexpr u32 kLvtDeliveryModeShift = 8;
inline constexpr u32 kLvtDeliveryModeMask = 7u << kLvtDeliveryModeShift;
inline constexpr u32 kLvtDeliveryStatus = 1u << 12;
inline constexpr u32 kLvtActiveLow = 1u << 13;
inline constexpr u32 kLvtRemoteIrr = 1u << 14;
inline constexpr u32 kLvtLevelTriggered = 1u << 15;
inline constexpr u32 kLvtMasked = 1u << 16;
inline constexpr u32 kLvtTimerModeShift = 17;
inline constexpr u32 kLvtTimerModeMask = 3u << kLvtTimerModeShift;

// ESR bits (SDM 11.5.3).
inline constexpr u32 kEsrSendIllegalVector = 1u << 5;
inline constexpr u32 kEsrReceiveIllegalVector = 1u << 6;
inline constexpr u32 kEsrIllegalRegister = 1u << 7;

// IA32_APIC_BASE (SDM 11.4.4, 11.12.1).
inline constexpr u64 kApicBaseBsp = 1ull << 8;
inline constexpr u64 kApicBaseX2apic = 1ull << 10;
inline constexpr u64 kApicBaseEnable = 1ull << 11;
inline constexpr u64 kDefaultApicBase = 0xfee00000;

// Vectors 0-15 are illegal for fixed and lowest-priority delivery (SDM 11.5.2).
inline constexpr u8 kFirstLegalVector = 16;

}  // namespace lapic
