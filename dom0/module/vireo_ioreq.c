// SPDX-License-Identifier: GPL-2.0
/* Device models: a file of /dev/vireo attached to one domain (VIREO_IOCTL_IOREQ_ATTACH)
 * owns the page of that domain's I/O requests (docs/hypercalls.md, "Device models"). The
 * module allocates the page, gives its frame to the hypervisor (ioreq_attach) and maps it
 * into the device model (mmap); poll() says when a slot holds a request or a doorbell
 * rang. Closing the file detaches the device model: its domain's waiting vCPUs get all
 * ones and go on, and the page is freed only after the hypervisor let go of it.
 *
 * Vireo's event line is a GSI of Domain-0's I/O APIC beyond the machine's (event_gsi):
 * an edge the hypervisor raises whenever it put work into such a page. Its handler wakes
 * the device models' waiters. The line follows the CPU where a device model last went to
 * sleep in poll(): the interrupt then wakes that vCPU and the waiter on it, where
 * elsewhere it would cost a reschedule IPI and a second vCPU's wake-up on every request
 * (with several busy device models it follows the latest; each move is two writes to the
 * I/O APIC's redirection entry). */
#include "vireo_ioreq.h"

#include <linux/acpi.h>
#include <linux/gfp.h>
#include <linux/interrupt.h>
#include <linux/wait.h>

#include "vireo_control.h"
#include "vireo_hypercall.h"

/* The hypervisor's layout of the page (kernel/vm/hypercall_abi.hpp: IoreqPage). */
#define VIREO_IOREQ_SLOTS 8
#define VIREO_IOREQ_READY 1
struct vireo_ioreq_slot {
	u32 state;
	u8 type, size, write, reserved;
	u64 address, data, sequence;
};
struct vireo_ioreq_page {
	u64 doorbells;
	u32 vcpus;
	u32 reserved0;
	u64 memory_target;
	u32 reserved[10];
	struct vireo_ioreq_slot slots[VIREO_IOREQ_SLOTS];
};

static DECLARE_WAIT_QUEUE_HEAD(vireo_ioreq_wait);
static int vireo_event_irq = -1;
static atomic64_t vireo_event_count = ATOMIC64_INIT(0);
static int vireo_event_cpu = -1; /* where the line was steered last */
static DEFINE_SPINLOCK(vireo_event_steer_lock);

static irqreturn_t vireo_event_interrupt(int irq, void *data)
{
	atomic64_inc(&vireo_event_count);
	wake_up_interruptible_all(&vireo_ioreq_wait);
	return IRQ_HANDLED;
}

int vireo_event_line_start(void)
{
	u64 arguments[5] = {0};
	s64 gsi = vireo_hypercall(VIREO_CALL_EVENT_GSI, arguments);
	int irq, error;

	if (gsi < 0) {
		pr_err("vireo: the hypervisor gives no event line (%lld)\n", gsi);
		return -ENODEV;
	}
	irq = acpi_register_gsi(NULL, (u32)gsi, ACPI_EDGE_SENSITIVE, ACPI_ACTIVE_HIGH);
	if (irq < 0) {
		pr_err("vireo: GSI %lld of the event line has no interrupt (%d)\n", gsi, irq);
		return irq;
	}
	error = request_irq(irq, vireo_event_interrupt, 0, "vireo-events", NULL);
	if (error) {
		acpi_unregister_gsi((u32)gsi);
		return error;
	}
	vireo_event_irq = irq;
	pr_info("vireo: event line on GSI %lld (irq %d)\n", gsi, irq);
	return 0;
}

void vireo_event_line_stop(void)
{
	if (vireo_event_irq >= 0)
		free_irq(vireo_event_irq, NULL);
	vireo_event_irq = -1;
	vireo_event_cpu = -1;
}

static s64 vireo_ioreq_call(u64 number, u64 domain, u64 argument)
{
	u64 arguments[5] = {domain, argument};

	return vireo_hypercall(number, arguments);
}

long vireo_ioreq_attach(struct vireo_file *file, u32 domain)
{
	unsigned long page;
	s64 result;

	mutex_lock(&file->lock);
	if (file->mode != VIREO_FILE_CONTROL) {
		mutex_unlock(&file->lock);
		return -EBUSY;
	}
	page = get_zeroed_page(GFP_KERNEL);
	if (!page) {
		mutex_unlock(&file->lock);
		return -ENOMEM;
	}
	result = vireo_ioreq_call(VIREO_CALL_IOREQ_ATTACH, domain,
				  virt_to_phys((void *)page) >> PAGE_SHIFT);
	if (result) {
		free_page(page);
		mutex_unlock(&file->lock);
		return result == VIREO_ERROR_NO_SUCH_DOMAIN ? -ESRCH
		       : result == VIREO_ERROR_EXISTS	    ? -EEXIST
		       : result == VIREO_ERROR_NO_MEMORY    ? -ENOMEM
		       : result == VIREO_ERROR_WRONG_STATE  ? -EBUSY
							    : -EINVAL;
	}
	file->mode = VIREO_FILE_IOREQ;
	file->domain = domain;
	file->ioreq_page = (void *)page;
	mutex_unlock(&file->lock);
	return 0;
}

int vireo_ioreq_mmap(struct vireo_file *file, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff != 0 || vma->vm_end - vma->vm_start != PAGE_SIZE ||
	    !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	vma->vm_flags &= ~VM_MAYEXEC;
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND;
	return remap_pfn_range(vma, vma->vm_start, virt_to_phys(file->ioreq_page) >> PAGE_SHIFT,
			       PAGE_SIZE, vma->vm_page_prot);
}

static bool vireo_ioreq_has_work(struct vireo_file *file)
{
	struct vireo_ioreq_page *page = file->ioreq_page;
	int i;

	if (READ_ONCE(page->doorbells))
		return true;
	for (i = 0; i < VIREO_IOREQ_SLOTS; ++i)
		if (smp_load_acquire(&page->slots[i].state) == VIREO_IOREQ_READY)
			return true;
	return false;
}

/* The event line to this CPU, where a device model is about to sleep (the CPU is a hint:
 * the waiter may move, and the next poll steers the line again). */
static void vireo_event_follow_waiter(void)
{
	int cpu = raw_smp_processor_id();

	if (vireo_event_irq < 0 || READ_ONCE(vireo_event_cpu) == cpu)
		return;
	/* One steer at a time, so the line and vireo_event_cpu agree. */
	spin_lock(&vireo_event_steer_lock);
	if (vireo_event_cpu != cpu && irq_set_affinity(vireo_event_irq, cpumask_of(cpu)) == 0)
		WRITE_ONCE(vireo_event_cpu, cpu);
	spin_unlock(&vireo_event_steer_lock);
}

__poll_t vireo_ioreq_poll(struct file *filp, struct vireo_file *file, poll_table *wait)
{
	poll_wait(filp, &vireo_ioreq_wait, wait);
	if (vireo_ioreq_has_work(file))
		return EPOLLIN | EPOLLRDNORM;
	vireo_event_follow_waiter();
	return 0;
}

void vireo_ioreq_release(struct vireo_file *file)
{
	s64 result;

	if (file->mode != VIREO_FILE_IOREQ)
		return;
	result = vireo_ioreq_call(VIREO_CALL_IOREQ_DETACH, file->domain, 0);
	/* Detached (0) or the domain is gone (its resources, the server with them): either
	 * way the hypervisor no longer writes the page. */
	if (result && result != VIREO_ERROR_NO_SUCH_DOMAIN && result != VIREO_ERROR_WRONG_STATE) {
		pr_err("vireo: detaching the device model of domain %u failed (%lld); its page is "
		       "kept\n",
		       file->domain, result);
		return;
	}
	free_page((unsigned long)file->ioreq_page);
	file->ioreq_page = NULL;
}
