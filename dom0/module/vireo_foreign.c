// SPDX-License-Identifier: GPL-2.0
/* mmap of a domain's pages, for Domain-0's domain builder (docs/hypercalls.md,
 * domain_map_foreign): the mapping's offset names the domain and its first page
 * (VIREO_FOREIGN_OFFSET in vireo_control.h). The module gives up pages of Domain-0's own
 * RAM for it; the hypervisor makes them show the domain's pages, and the process maps
 * them. munmap (or the process's end) asks the hypervisor to give them their own frames
 * back, and only then are they freed. A mapping is shared, never executable, never
 * copied into a child, split, grown or moved: it is one domain_map_foreign handle. Every
 * VMA that refers to it holds a reference (an mremap that is refused still copies the VMA
 * for a moment), and the last one unmaps it. */
#include <linux/kref.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "vireo_control.h"
#include "vireo_foreign.h"
#include "vireo_hypercall.h"

struct vireo_foreign_map {
	struct kref references;
	u32 domain;
	s64 handle;
	unsigned long count;
	struct page **pages;
};

static void vireo_foreign_free(struct vireo_foreign_map *map, unsigned long allocated)
{
	while (allocated)
		__free_page(map->pages[--allocated]);
	kvfree(map->pages);
	kfree(map);
}

/* Gives the pages their own frames back; only then may the kernel have them again. */
static void vireo_foreign_unmap(struct vireo_foreign_map *map)
{
	u64 arguments[5] = {(u64)map->handle};
	s64 result = vireo_hypercall(VIREO_CALL_DOMAIN_UNMAP_FOREIGN, arguments);

	if (result < 0) {
		/* They may still show the domain's memory: kept from the kernel for good. */
		pr_err("vireo: unmapping domain %u's pages failed (%lld): %lu pages leaked\n",
		       map->domain, result, map->count);
		kvfree(map->pages);
		kfree(map);
		return;
	}
	vireo_foreign_free(map, map->count);
}

static void vireo_foreign_release(struct kref *references)
{
	vireo_foreign_unmap(container_of(references, struct vireo_foreign_map, references));
}

static void vireo_foreign_open(struct vm_area_struct *vma)
{
	struct vireo_foreign_map *map = vma->vm_private_data;

	kref_get(&map->references);
}

static void vireo_foreign_close(struct vm_area_struct *vma)
{
	struct vireo_foreign_map *map = vma->vm_private_data;

	kref_put(&map->references, vireo_foreign_release);
}

static int vireo_foreign_may_split(struct vm_area_struct *vma, unsigned long address)
{
	return -EINVAL;
}

static int vireo_foreign_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static const struct vm_operations_struct vireo_foreign_operations = {
	.open = vireo_foreign_open,
	.close = vireo_foreign_close,
	.may_split = vireo_foreign_may_split,
	.mremap = vireo_foreign_mremap,
};

/* The hypervisor's errors (docs/hypercalls.md) as errno values. */
static int vireo_foreign_errno(s64 error)
{
	switch (error) {
	case VIREO_ERROR_NO_SUCH_DOMAIN:
		return -ESRCH;
	case VIREO_ERROR_NO_MEMORY:
		return -ENOMEM;
	case VIREO_ERROR_WRONG_STATE:
		return -EBUSY;
	case VIREO_ERROR_TOO_BIG:
		return -E2BIG;
	case VIREO_ERROR_PERMISSION:
		return -EPERM;
	default:
		return -EINVAL; /* pages that are not the domain's RAM, among others */
	}
}

int vireo_foreign_mmap(struct file *filp, struct vm_area_struct *vma)
{
	unsigned long count = vma_pages(vma), allocated, i;
	struct vireo_foreign_map *map;
	u64 arguments[5], *frames;
	int error = 0;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL; /* a private copy of another domain's memory means nothing */
	/* The hypervisor maps the pages without execute permission: a fetch would end
	 * Domain-0 itself. */
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (count > VIREO_FOREIGN_MAX_PAGES)
		return -E2BIG;
	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map)
		return -ENOMEM;
	kref_init(&map->references);
	map->domain = VIREO_FOREIGN_DOMAIN(vma->vm_pgoff);
	map->count = count;
	map->pages = kvcalloc(count, sizeof(*map->pages), GFP_KERNEL);
	frames = kvcalloc(count, sizeof(*frames), GFP_KERNEL);
	if (!map->pages || !frames) {
		kvfree(frames);
		vireo_foreign_free(map, 0);
		return -ENOMEM;
	}
	for (allocated = 0; allocated < count; ++allocated) {
		/* Zeroed: after a revoke the process sees these pages, never old kernel data. */
		map->pages[allocated] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!map->pages[allocated]) {
			kvfree(frames);
			vireo_foreign_free(map, allocated);
			return -ENOMEM;
		}
		/* Domain-0's guest frame number (its RAM is identity-mapped: the host's too). */
		frames[allocated] = page_to_pfn(map->pages[allocated]);
	}
	arguments[0] = map->domain;
	arguments[1] = VIREO_FOREIGN_FIRST_PAGE(vma->vm_pgoff);
	arguments[2] = count;
	arguments[3] = (u64)(unsigned long)frames;
	arguments[4] = 0;
	map->handle = vireo_hypercall(VIREO_CALL_DOMAIN_MAP_FOREIGN, arguments);
	kvfree(frames);
	if (map->handle < 0) {
		error = vireo_foreign_errno(map->handle);
		vireo_foreign_free(map, count);
		return error;
	}
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_flags &= ~VM_MAYEXEC;
	for (i = 0; i < count && !error; ++i)
		error = remap_pfn_range(vma, vma->vm_start + i * PAGE_SIZE,
					page_to_pfn(map->pages[i]), PAGE_SIZE, vma->vm_page_prot);
	if (error) {
		/* close is not called for a mapping that failed: its entries go now, before the
		 * pages they point at are freed. */
		zap_vma_ptes(vma, vma->vm_start, i * PAGE_SIZE);
		vireo_foreign_unmap(map);
		return error;
	}
	vma->vm_private_data = map;
	vma->vm_ops = &vireo_foreign_operations;
	return 0;
}
