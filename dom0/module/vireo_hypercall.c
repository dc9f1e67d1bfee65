// SPDX-License-Identifier: GPL-2.0
/* The hypercall instruction and the hypervisor's signature (docs/hypercalls.md): RAX
 * holds the call number, RBX, RCX, RDX, RSI and RDI the arguments, and the result comes
 * back in RAX; every other register is preserved. */
#include "vireo_hypercall.h"

#include <asm/processor.h>
#include <linux/string.h>

bool vireo_present(void)
{
	unsigned int eax, signature[3];

	cpuid(0x40000000, &eax, &signature[0], &signature[1], &signature[2]);
	return memcmp(signature, "VireoVireoHV", 12) == 0;
}

s64 vireo_hypercall(u64 number, const u64 arguments[5])
{
	s64 result;

	/* AMD-V's VMMCALL and VT-x's VMCALL (AMD APM vol. 3; SDM vol. 2B): each is #UD on
	 * the other vendor's processors. */
	if (boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
	    boot_cpu_data.x86_vendor == X86_VENDOR_HYGON)
		asm volatile("vmmcall"
			     : "=a"(result)
			     : "a"(number), "b"(arguments[0]), "c"(arguments[1]), "d"(arguments[2]),
			       "S"(arguments[3]), "D"(arguments[4])
			     : "memory");
	else
		asm volatile("vmcall"
			     : "=a"(result)
			     : "a"(number), "b"(arguments[0]), "c"(arguments[1]), "d"(arguments[2]),
			       "S"(arguments[3]), "D"(arguments[4])
			     : "memory");
	return result;
}
