// SPDX-License-Identifier: GPL-2.0
/* /dev/vireo: Domain-0's door to the hypervisor's control calls, for root only (mode
 * 0600, and CAP_SYS_ADMIN at open). The tools (dom0/xm) ask for one hypercall per ioctl
 * (dom0/include/vireo_control.h); a buffer the call reads or writes is copied through
 * kernel memory, so the hypervisor never walks a process's page tables. mmap maps
 * another domain's pages (vireo_foreign.c). */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "vireo_control.h"
#include "vireo_foreign.h"
#include "vireo_hypercall.h"
#include "vireo_ioreq.h"
#include "vireo_streams.h"

static int vireo_open(struct inode *inode, struct file *filp)
{
	struct vireo_file *file;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	file = kzalloc(sizeof(*file), GFP_KERNEL);
	if (!file)
		return -ENOMEM;
	mutex_init(&file->lock);
	file->mode = VIREO_FILE_CONTROL;
	filp->private_data = file;
	return 0;
}

static int vireo_release(struct inode *inode, struct file *filp)
{
	struct vireo_file *file = filp->private_data;

	vireo_stream_release(file);
	vireo_ioreq_release(file);
	kfree(file);
	return 0;
}

static ssize_t vireo_read(struct file *filp, char __user *out, size_t length, loff_t *offset)
{
	return vireo_stream_read(filp->private_data, out, length, filp->f_flags & O_NONBLOCK);
}

static ssize_t vireo_write(struct file *filp, const char __user *in, size_t length, loff_t *offset)
{
	return vireo_stream_write(filp->private_data, in, length, filp->f_flags & O_NONBLOCK);
}

static __poll_t vireo_poll(struct file *filp, poll_table *wait)
{
	struct vireo_file *file = filp->private_data;

	if (file->mode == VIREO_FILE_IOREQ)
		return vireo_ioreq_poll(filp, file, wait);
	return vireo_stream_poll(filp, file, wait);
}

static int vireo_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct vireo_file *file = filp->private_data;

	if (file->mode == VIREO_FILE_IOREQ)
		return vireo_ioreq_mmap(file, vma);
	return vireo_foreign_mmap(filp, vma);
}

static long vireo_do_hypercall(struct vireo_hypercall __user *user_call)
{
	struct vireo_hypercall call;
	void *buffer = NULL;
	u64 arguments[5];
	long error = 0;

	if (copy_from_user(&call, user_call, sizeof(call)))
		return -EFAULT;
	if (call.buffer_argument < -1 || call.buffer_argument > 4)
		return -EINVAL;
	/* Foreign mappings replace pages of Domain-0's own RAM: only mmap, which owns the
	 * pages it gives up, may ask for them. */
	if (call.number == VIREO_CALL_DOMAIN_MAP_FOREIGN ||
	    call.number == VIREO_CALL_DOMAIN_UNMAP_FOREIGN)
		return -EPERM;
	/* Likewise the page of a device model's requests: VIREO_IOCTL_IOREQ_ATTACH owns it. */
	if (call.number == VIREO_CALL_IOREQ_ATTACH || call.number == VIREO_CALL_IOREQ_DETACH)
		return -EPERM;
	memcpy(arguments, call.arguments, sizeof(arguments));
	if (call.buffer_argument >= 0) {
		if (call.buffer_length == 0)
			return -EINVAL;
		if (call.buffer_length > VIREO_MAX_BUFFER)
			return -E2BIG;
		buffer = kvzalloc(call.buffer_length, GFP_KERNEL);
		if (!buffer)
			return -ENOMEM;
		if (copy_from_user(buffer, u64_to_user_ptr(call.buffer), call.buffer_length)) {
			error = -EFAULT;
			goto out;
		}
		arguments[call.buffer_argument] = (u64)(unsigned long)buffer;
	}
	call.result = vireo_hypercall(call.number, arguments);
	if (buffer && copy_to_user(u64_to_user_ptr(call.buffer), buffer, call.buffer_length))
		error = -EFAULT;
	else if (copy_to_user(user_call, &call, sizeof(call)))
		error = -EFAULT;
out:
	kvfree(buffer);
	return error;
}

static long vireo_ioctl(struct file *filp, unsigned int command, unsigned long argument)
{
	struct vireo_file *file = filp->private_data;

	switch (command) {
	case VIREO_IOCTL_HYPERCALL:
		return vireo_do_hypercall((struct vireo_hypercall __user *)argument);
	case VIREO_IOCTL_CONSOLE_ATTACH:
		return vireo_console_attach(file, (void __user *)argument);
	case VIREO_IOCTL_CONSOLE_LOST:
		return put_user(file->lost, (__u64 __user *)argument);
	case VIREO_IOCTL_EVENTS_ATTACH:
		return vireo_events_attach(file);
	case VIREO_IOCTL_IOREQ_ATTACH:
		return vireo_ioreq_attach(file, (u32)argument);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations vireo_fops = {
	.owner = THIS_MODULE,
	.open = vireo_open,
	.release = vireo_release,
	.read = vireo_read,
	.write = vireo_write,
	.poll = vireo_poll,
	.mmap = vireo_mmap,
	.llseek = no_llseek,
	.unlocked_ioctl = vireo_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice vireo_device = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vireo",
	.fops = &vireo_fops,
	.mode = 0600,
};

static int __init vireo_init(void)
{
	int error;

	if (!vireo_present()) {
		pr_err("vireo: not running on the Vireo hypervisor (CPUID 0x40000000)\n");
		return -ENODEV;
	}
	error = vireo_event_line_start();
	if (error)
		return error;
	error = misc_register(&vireo_device);
	if (error) {
		vireo_event_line_stop();
		return error;
	}
	pr_info("vireo: /dev/vireo ready\n");
	return 0;
}

static void __exit vireo_exit(void)
{
	misc_deregister(&vireo_device);
	vireo_event_line_stop();
	vireo_streams_stop();
}

module_init(vireo_init);
module_exit(vireo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Domain-0's control interface to the Vireo hypervisor");
