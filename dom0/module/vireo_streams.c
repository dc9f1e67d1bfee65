// SPDX-License-Identifier: GPL-2.0
/* Console and event streams over the hypervisor's rings and generation counters
 * (docs/hypercalls.md: domain_console_read, domain_console_write, event_status).
 *
 * The hypervisor raises no interrupt in Domain-0 yet (that comes with the paravirtual
 * devices' event channel), so while anyone waits (a blocking read, or a file that was
 * polled and is still open), one delayed work item asks for the event status every
 * VIREO_POLL_MS and wakes the waiters when a generation moved: one hypercall per period
 * for all of them, and none while no one waits. */
#include "vireo_streams.h"

#include <linux/jiffies.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "vireo_control.h"
#include "vireo_hypercall.h"

#define VIREO_POLL_MS 20
#define VIREO_READ_CHUNK 4096

static DECLARE_WAIT_QUEUE_HEAD(vireo_wait);
static atomic_t vireo_waiters = ATOMIC_INIT(0);
static atomic64_t vireo_state_generation = ATOMIC64_INIT(0);
static atomic64_t vireo_console_generation = ATOMIC64_INIT(0);

static int vireo_event_status(struct vireo_events *events)
{
	u64 arguments[5] = {(u64)(unsigned long)events};

	return vireo_hypercall(VIREO_CALL_EVENT_STATUS, arguments) == 0 ? 0 : -EIO;
}

/* Takes the hypervisor's generations; wakes the waiters when one moved. */
static void vireo_refresh(void)
{
	struct vireo_events events;
	bool moved;

	if (vireo_event_status(&events))
		return;
	moved = atomic64_xchg(&vireo_state_generation, events.state_generation) !=
		events.state_generation;
	moved |= atomic64_xchg(&vireo_console_generation, events.console_generation) !=
		 events.console_generation;
	if (moved)
		wake_up_interruptible_all(&vireo_wait);
}

static void vireo_poll_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(vireo_poll_work, vireo_poll_work_fn);

static void vireo_poll_work_fn(struct work_struct *work)
{
	vireo_refresh();
	if (atomic_read(&vireo_waiters) > 0)
		schedule_delayed_work(&vireo_poll_work, msecs_to_jiffies(VIREO_POLL_MS));
}

static void vireo_waiter_add(void)
{
	if (atomic_inc_return(&vireo_waiters) == 1)
		mod_delayed_work(system_wq, &vireo_poll_work, msecs_to_jiffies(VIREO_POLL_MS));
}

static void vireo_waiter_remove(void)
{
	atomic_dec(&vireo_waiters);
}

void vireo_streams_stop(void)
{
	cancel_delayed_work_sync(&vireo_poll_work);
}

/* The end of domain `domain`'s console stream (a read of the header alone): 0, -ENOENT
 * once the domain is gone, -EIO on another error. */
static int vireo_console_end(u32 domain, u64 *end)
{
	char header[VIREO_RING_HEADER_BYTES];
	u64 arguments[5] = {domain, 0, (u64)(unsigned long)header, sizeof(header)};
	s64 result = vireo_hypercall(VIREO_CALL_DOMAIN_CONSOLE_READ, arguments);

	if (result == VIREO_ERROR_NO_SUCH_DOMAIN)
		return -ENOENT;
	if (result < 0)
		return -EIO;
	memcpy(end, header + 8, 8);
	return 0;
}

long vireo_console_attach(struct vireo_file *file, void __user *argument)
{
	struct vireo_console_attach attach;
	long error = 0;

	if (copy_from_user(&attach, argument, sizeof(attach)))
		return -EFAULT;
	if (attach.reserved)
		return -EINVAL;
	mutex_lock(&file->lock);
	if (file->mode != VIREO_FILE_CONTROL) {
		error = -EBUSY;
	} else {
		/* The domain exists, and "from the end" becomes the end's position now. */
		u64 end;

		error = vireo_console_end(attach.domain, &end);
		if (!error) {
			file->mode = VIREO_FILE_CONSOLE;
			file->domain = attach.domain;
			file->position =
				attach.position == VIREO_CONSOLE_FROM_END ? end : attach.position;
		}
	}
	mutex_unlock(&file->lock);
	return error;
}

long vireo_events_attach(struct vireo_file *file)
{
	long error = 0;

	mutex_lock(&file->lock);
	if (file->mode != VIREO_FILE_CONTROL)
		error = -EBUSY;
	else
		file->mode = VIREO_FILE_EVENTS;
	mutex_unlock(&file->lock);
	return error;
}

/* One console read into `buffer` (header, then text): the text's length, 0 when none
 * waits, -ENOENT once the domain is gone. Moves the file's position past it. */
static long vireo_console_take(struct vireo_file *file, char *buffer, size_t room)
{
	u64 arguments[5] = {file->domain, file->position, (u64)(unsigned long)buffer,
			    room + VIREO_RING_HEADER_BYTES};
	u64 first;
	s64 result;

	result = vireo_hypercall(VIREO_CALL_DOMAIN_CONSOLE_READ, arguments);
	if (result == VIREO_ERROR_NO_SUCH_DOMAIN)
		return -ENOENT;
	if (result < 0)
		return -EIO;
	memcpy(&first, buffer, 8);
	if (first > file->position)
		file->lost += first - file->position;
	file->position = first + result;
	return result;
}

static ssize_t vireo_console_read(struct vireo_file *file, char __user *out, size_t length,
				  bool nonblock)
{
	size_t room = min_t(size_t, length, VIREO_READ_CHUNK);
	char *buffer;
	ssize_t result;

	if (length == 0)
		return 0;
	buffer = kmalloc(room + VIREO_RING_HEADER_BYTES, GFP_KERNEL);
	if (!buffer)
		return -ENOMEM;
	vireo_waiter_add();
	for (;;) {
		u64 seen_console = atomic64_read(&vireo_console_generation);
		u64 seen_state = atomic64_read(&vireo_state_generation);
		long n = vireo_console_take(file, buffer, room);

		if (n == -ENOENT) {
			result = 0; /* the domain is gone: end of file */
			break;
		}
		if (n < 0) {
			result = n;
			break;
		}
		if (n > 0) {
			result = copy_to_user(out, buffer + VIREO_RING_HEADER_BYTES, n) ? -EFAULT
											: n;
			break;
		}
		if (nonblock) {
			result = -EAGAIN;
			break;
		}
		/* Output moves the console generation, a destroy the state one. */
		if (wait_event_interruptible(
			    vireo_wait,
			    atomic64_read(&vireo_console_generation) != seen_console ||
				    atomic64_read(&vireo_state_generation) != seen_state)) {
			result = -ERESTARTSYS;
			break;
		}
	}
	vireo_waiter_remove();
	kfree(buffer);
	return result;
}

static ssize_t vireo_events_read(struct vireo_file *file, char __user *out, size_t length,
				 bool nonblock)
{
	struct vireo_events events;

	if (length < sizeof(events))
		return -EINVAL;
	vireo_waiter_add();
	for (;;) {
		u64 seen = atomic64_read(&vireo_state_generation);

		if (vireo_event_status(&events)) {
			vireo_waiter_remove();
			return -EIO;
		}
		if (!file->state_given || events.state_generation != file->state_seen)
			break;
		if (nonblock) {
			vireo_waiter_remove();
			return -EAGAIN;
		}
		if (wait_event_interruptible(vireo_wait,
					     atomic64_read(&vireo_state_generation) != seen)) {
			vireo_waiter_remove();
			return -ERESTARTSYS;
		}
	}
	vireo_waiter_remove();
	file->state_seen = events.state_generation;
	file->state_given = true;
	return copy_to_user(out, &events, sizeof(events)) ? -EFAULT : sizeof(events);
}

ssize_t vireo_stream_read(struct vireo_file *file, char __user *out, size_t length, bool nonblock)
{
	ssize_t result;

	if (mutex_lock_interruptible(&file->lock))
		return -ERESTARTSYS;
	switch (file->mode) {
	case VIREO_FILE_CONSOLE:
		result = vireo_console_read(file, out, length, nonblock);
		break;
	case VIREO_FILE_EVENTS:
		result = vireo_events_read(file, out, length, nonblock);
		break;
	default:
		result = -EINVAL; /* a control file has no stream */
	}
	mutex_unlock(&file->lock);
	return result;
}

/* Typed into the domain's console: what its input queue takes now. A full queue is
 * waited on (period by period) unless O_NONBLOCK. */
ssize_t vireo_stream_write(struct vireo_file *file, const char __user *in, size_t length,
			   bool nonblock)
{
	char buffer[64];
	size_t n = min_t(size_t, length, sizeof(buffer));
	u64 arguments[5];
	s64 taken;

	if (file->mode != VIREO_FILE_CONSOLE)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (copy_from_user(buffer, in, n))
		return -EFAULT;
	arguments[0] = file->domain;
	arguments[1] = (u64)(unsigned long)buffer;
	arguments[2] = n;
	for (;;) {
		taken = vireo_hypercall(VIREO_CALL_DOMAIN_CONSOLE_WRITE, arguments);
		if (taken == VIREO_ERROR_NO_SUCH_DOMAIN)
			return -ENOENT;
		if (taken < 0)
			return -EIO; /* ended, or a domain without a console that takes input */
		if (taken > 0)
			return taken;
		if (nonblock)
			return -EAGAIN;
		if (schedule_timeout_interruptible(msecs_to_jiffies(VIREO_POLL_MS)))
			return -ERESTARTSYS;
	}
}

__poll_t vireo_stream_poll(struct file *filp, struct vireo_file *file, poll_table *wait)
{
	__poll_t mask = 0;

	mutex_lock(&file->lock);
	if (!file->polled && file->mode != VIREO_FILE_CONTROL) {
		file->polled = true;
		vireo_waiter_add();
	}
	poll_wait(filp, &vireo_wait, wait);
	if (file->mode == VIREO_FILE_CONSOLE) {
		u64 end;

		if (vireo_console_end(file->domain, &end)) {
			mask = EPOLLIN | EPOLLHUP; /* gone: read() says end of file */
		} else {
			if (end > file->position)
				mask |= EPOLLIN | EPOLLRDNORM;
			mask |= EPOLLOUT | EPOLLWRNORM;
		}
	} else if (file->mode == VIREO_FILE_EVENTS) {
		struct vireo_events events;

		if (vireo_event_status(&events) == 0 &&
		    (!file->state_given || events.state_generation != file->state_seen))
			mask |= EPOLLIN | EPOLLRDNORM;
	}
	mutex_unlock(&file->lock);
	return mask;
}

void vireo_stream_release(struct vireo_file *file)
{
	if (file->polled)
		vireo_waiter_remove();
}
