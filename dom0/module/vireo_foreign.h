/* mmap of another domain's pages (foreign mapping) on /dev/vireo. */
#ifndef VIREO_FOREIGN_H
#define VIREO_FOREIGN_H

#include <linux/fs.h>
#include <linux/mm.h>

int vireo_foreign_mmap(struct file *filp, struct vm_area_struct *vma);

#endif
