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

/* Turns the open file into domain `domain`'s console: read() gives its output from
 * `position` on (0: everything the hypervisor still keeps, VIREO_CONSOLE_FROM_END: only
 * what comes next), blocking until there is some (or O_NONBLOCK: EAGAIN); 0 (end of file)
 * once the domain is destroyed. write() is typed into it (its COM1); poll() says when
 * output waits. Output the hypervisor overwrote before it was read is skipped, and
 * counted: VIREO_IOCTL_CONSOLE_LOST gives the count so far. */
struct vireo_console_attach {
	__u32 domain;
	__u32 reserved;
	__u64 position;
};
#define VIREO_CONSOLE_FROM_END (~(__u64)0)
#define VIREO_IOCTL_CONSOLE_ATTACH _IOW('V', 2, struct vireo_console_attach)
#define VIREO_IOCTL_CONSOLE_LOST _IOR('V', 3, __u64)

/* Turns the open file into a watch on the domains' states: each read() gives one struct
 * vireo_events (the hypervisor's event_status) once the state generation differs from the
 * one this file gave last (the first read at once), blocking until then; poll() says when
 * it does. The reader then looks at the domains (domain_list, domain_get_status). */
struct vireo_events {
	__u64 state_generation;
	__u64 console_generation;
};
#define VIREO_IOCTL_EVENTS_ATTACH _IO('V', 4)

/* mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, VIREO_FOREIGN_OFFSET(domain,
 * page)) maps `length` bytes of a domain's RAM from its guest frame `page` (the control
 * call domain_map_foreign): at most VIREO_FOREIGN_MAX_PAGES pages, all of them RAM.
 * Errors: ESRCH (no such domain), EINVAL (not MAP_SHARED, or pages that are not its RAM),
 * EPERM (PROT_EXEC: the pages are never executable),
 * E2BIG (too long), EBUSY (its memory is going, or its dirty log runs), ENOMEM. A mapping
 * is never inherited by a child, split, grown or moved; munmap ends it. When the domain
 * is destroyed first, the mapping stays but no longer reaches its memory. */
#define VIREO_FOREIGN_MAX_PAGES 4096u
#define VIREO_FOREIGN_OFFSET(domain, page)                                                         \
	((((__u64)(domain) << 32) | ((__u64)(page)&0xffffffffu)) * 4096u)
#define VIREO_FOREIGN_DOMAIN(pgoff) ((__u32)((__u64)(pgoff) >> 32))
#define VIREO_FOREIGN_FIRST_PAGE(pgoff) ((__u64)(pgoff)&0xffffffffu)

/* Turns the open file into the device model of domain `argument` (the domain's id): the
 * module gives the hypervisor a page for the domain's I/O requests (ioreq_attach; its
 * layout is hypercall::IoreqPage of kernel/vm/hypercall_abi.hpp), which mmap(NULL, 4096,
 * PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) maps; poll() says POLLIN while a slot holds
 * a request or a doorbell rang. The other device-model calls (ioreq_map, ioreq_complete,
 * inject_msi) go through VIREO_IOCTL_HYPERCALL. Closing the file detaches it. Errors:
 * ESRCH (no such domain), EEXIST (it has a device model), EBUSY (the file is something
 * else already, or the domain is ending), EINVAL (a domain without a virtual PC). */
#define VIREO_IOCTL_IOREQ_ATTACH _IO('V', 5)

#endif
