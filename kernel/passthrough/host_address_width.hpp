// How far up the machine's physical address space reaches for Domain-0's passthrough
// (HostPhysicalPolicy::set_physical_limit): addresses from 2^width up are not devices,
// and with memory encryption some of them are host RAM under another key.
//
//  - MAXPHYADDR: CPUID 8000_0008h EAX[7:0] (Intel SDM vol. 3A 4.1.4; AMD APM vol. 3,
//    E.4.7); 36 when the leaf is missing (SDM vol. 3A 4.1.4).
//  - AMD SME/SEV: when CPUID 8000_001Fh EAX[0] says SME exists, EBX[5:0] is the position
//    of the C-bit, which lies inside the physical address: an address with it set is
//    the same page, encrypted (AMD APM vol. 2 7.10.1). The width stops below it.
//  - Intel TME-MK: when CPUID.(EAX=7,ECX=0):ECX[13] says TME exists, IA32_TME_ACTIVATE
//    bits 35:32 (MK_TME_KEYID_BITS) are how many of the top physical address bits carry
//    a KeyID (SDM vol. 4 table 2-2; Intel Multi-Key Total Memory Encryption spec 3.1).
//    The width loses them, as Linux's detect_tme does.
//
// Pure: the CPU is reached through CpuAccess (kernel/x86/cpu_access.hpp).
#pragma once

#include "kernel/types.hpp"

class CpuAccess;

struct HostAddressWidth {
    u32 maxphyaddr = 0;  // as CPUID reports it
    u32 c_bit = 0;       // AMD SME's C-bit position; 0 when there is none
    u32 keyid_bits = 0;  // Intel TME-MK's KeyID bits; 0 when there are none
    u32 bits = 0;        // what is left for addresses: the policy's limit is 1 << bits
};

HostAddressWidth host_address_width(const CpuAccess& cpu);
