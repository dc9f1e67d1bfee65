/* Calling the Vireo hypervisor from Domain-0's kernel (docs/hypercalls.md). */
#ifndef VIREO_HYPERCALL_H
#define VIREO_HYPERCALL_H

#include <linux/types.h>

/* True when CPUID leaf 0x40000000 names Vireo ("VireoVireoHV"). */
bool vireo_present(void);
/* Call `number` with its five arguments: VMMCALL on AMD, VMCALL on Intel. From CPL 0
 * only, which is why this is a kernel module. */
s64 vireo_hypercall(u64 number, const u64 arguments[5]);

#endif
