/* Device models (dom0/devmodel) on /dev/vireo: the page of I/O requests the hypervisor
 * fills for one domain, Vireo's event line that says when it did, and the doorbells. */
#ifndef VIREO_IOREQ_H
#define VIREO_IOREQ_H

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/poll.h>

#include "vireo_streams.h"

/* At module load: takes Vireo's event line (the event_gsi call) as an interrupt. */
int vireo_event_line_start(void);
void vireo_event_line_stop(void);

long vireo_ioreq_attach(struct vireo_file *file, u32 domain);
int vireo_ioreq_mmap(struct vireo_file *file, struct vm_area_struct *vma);
__poll_t vireo_ioreq_poll(struct file *filp, struct vireo_file *file, poll_table *wait);
void vireo_ioreq_release(struct vireo_file *file);

#endif
