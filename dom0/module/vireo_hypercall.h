/* Calling the Vireo hypervisor from Domain-0's kernel (docs/hypercalls.md). */
#ifndef VIREO_HYPERCALL_H
#define VIREO_HYPERCALL_H

#include <linux/types.h>

/* The calls the module makes itself (docs/hypercalls.md); the tools name theirs. */
#define VIREO_CALL_DOMAIN_CONSOLE_READ 31
#define VIREO_CALL_DOMAIN_CONSOLE_WRITE 32
#define VIREO_CALL_EVENT_STATUS 33
#define VIREO_CALL_DOMAIN_MAP_FOREIGN 38
#define VIREO_CALL_DOMAIN_UNMAP_FOREIGN 39
#define VIREO_CALL_IOREQ_ATTACH 40
#define VIREO_CALL_IOREQ_DETACH 41
#define VIREO_CALL_EVENT_GSI 45
#define VIREO_ERROR_PERMISSION (-1)
#define VIREO_ERROR_NO_SUCH_DOMAIN (-3)
#define VIREO_ERROR_TOO_BIG (-7)
#define VIREO_ERROR_NO_MEMORY (-12)
#define VIREO_ERROR_EXISTS (-17)
#define VIREO_ERROR_WRONG_STATE (-125)
#define VIREO_CONSOLE_WRITE_MAX 1024
#define VIREO_RING_HEADER_BYTES 16

/* True when CPUID leaf 0x40000000 names Vireo ("VireoVireoHV"). */
bool vireo_present(void);
/* Call `number` with its five arguments: VMMCALL on AMD, VMCALL on Intel. From CPL 0
 * only, which is why this is a kernel module. */
s64 vireo_hypercall(u64 number, const u64 arguments[5]);

#endif
