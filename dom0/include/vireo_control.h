/* The interface between Domain-0's kernel module (dom0/module) and its tools (dom0/xm):
 * /dev/vireo's ioctls. Plain C, for the kernel and for C++ user space alike. What the
 * calls themselves take and give is the hypercall ABI (docs/hypercalls.md,
 * kernel/vm/hypercall_abi.hpp). */
#ifndef VIREO_CONTROL_H
#define VIREO_CONTROL_H

#ifdef __KERNEL__
#include <linux/ioctl.h>
#include <linux/types.h>
#else
#include <linux/ioctl.h>
#include <stdint.h>
typedef uint32_t __u32;
typedef uint64_t __u64;
typedef int32_t __s32;
typedef int64_t __s64;
#endif

/* One hypercall made for the caller. A call whose argument `buffer_argument` (0-4) is a
 * linear address gets that argument replaced by a kernel copy of the caller's `buffer`
 * (`buffer_length` bytes, copied in before the call and back out after it): the
 * hypervisor reads it through the kernel's page tables, never the process's.
 * buffer_argument -1: no buffer. `result` is the call's (>= 0, or a negative error
 * from docs/hypercalls.md); the ioctl itself fails only when the request is malformed
 * (EINVAL, E2BIG over VIREO_MAX_BUFFER), its buffer unreadable (EFAULT), or the caller
 * not allowed (EPERM). */
struct vireo_hypercall {
	__u64 number;
	__u64 arguments[5];
	__s32 buffer_argument;
	__u32 buffer_length;
	__u64 buffer;
	__s64 result;
};

#define VIREO_MAX_BUFFER (4u << 20)
#define VIREO_IOCTL_HYPERCALL _IOWR('V', 1, struct vireo_hypercall)

#endif
