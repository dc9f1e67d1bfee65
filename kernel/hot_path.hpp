#pragma once
// VIREO_HOT_PATH marks a function that runs on every exit the fast path handles
// (kernel/vm/exit_fast_path.hpp): a backend's run loop, port I/O with a modelled device
// (a Linux guest's serial console: two exits per character), CPUID and the constant
// hypercalls. It places the function in .text.hot, which linker.ld puts first in .text,
// so that these functions share a few pages instead of being spread over the image.
//
// Why the pages matter: QEMU's TCG flushes its whole software TLB at every VMRUN and
// #VMEXIT (the CR3 load of cpu_x86_update_cr3, and the nested MMU index; QEMU's
// target/i386/tcg/sysemu/svm_helper.c), so every distinct page touched in a round trip
// costs a TLB fill, a page walk in software, on every exit. Spread out, the console's
// exit path touched 12-13 pages of Vireo's text per exit; together, a few (issue 17).
// Real hardware with ASIDs or VPIDs keeps its TLB across the switch and is unaffected.
#define VIREO_HOT_PATH __attribute__((section(".text.hot")))
