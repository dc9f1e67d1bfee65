/* /dev/vireo's streams: a domain's console and the domains' state events, each on a file
 * of its own (dom0/include/vireo_control.h). */
#ifndef VIREO_STREAMS_H
#define VIREO_STREAMS_H

#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/types.h>

enum vireo_file_mode {
	VIREO_FILE_CONTROL,
	VIREO_FILE_CONSOLE,
	VIREO_FILE_EVENTS,
	VIREO_FILE_IOREQ
};

struct vireo_file {
	struct mutex lock; /* one reader or writer at a time on the file's position */
	enum vireo_file_mode mode;
	u32 domain;
	u64 position;	  /* console: the next byte to read */
	u64 lost;	  /* console: bytes overwritten before they were read */
	u64 state_seen;	  /* events: the generation the last read gave */
	bool state_given; /* events: a read gave one already */
	bool polled;	  /* it counts as a waiter until it is closed */
	void *ioreq_page; /* ioreq: the page of the domain's I/O requests (vireo_ioreq.c) */
};

long vireo_console_attach(struct vireo_file *file, void __user *argument);
long vireo_events_attach(struct vireo_file *file);
ssize_t vireo_stream_read(struct vireo_file *file, char __user *out, size_t length, bool nonblock);
ssize_t vireo_stream_write(struct vireo_file *file, const char __user *in, size_t length,
			   bool nonblock);
__poll_t vireo_stream_poll(struct file *filp, struct vireo_file *file, poll_table *wait);
void vireo_stream_release(struct vireo_file *file);
void vireo_streams_stop(void);

#endif
