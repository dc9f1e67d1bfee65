/*
 * Multiboot (version 1) header (Multiboot spec 0.6.96, section 3.1), for loaders that
 * speak only the first protocol: QEMU's own -kernel loader above all, which loads the
 * kernel and its modules from the host straight into guest memory, without a firmware
 * disk read (tools/bench-linux compares Vireo with plain QEMU's -kernel boot of Linux
 * that way). GRUB uses the Multiboot2 header before it.
 *
 * QEMU's loader takes no ELF64 image, so the header carries the address fields (flag
 * 16, the "a.out kludge", 3.1.3): the file it loads is build/vireo-boot.bin, the image
 * flat from its first byte at KERNEL_LMA (objcopy -O binary, .bss included as zeros).
 * load_end_addr and bss_end_addr are the image's end: a shorter file is refused (QEMU:
 * "fread() failed") rather than booted with part of the image missing.
 * The entry is the same as GRUB's; EAX tells the two protocols apart.
 */
#define MB1_MAGIC 0x1badb002
#define MB1_PAGE_ALIGN_MODULES (1 << 0)
#define MB1_MEMORY_INFO (1 << 1)
#define MB1_ADDRESS_FIELDS (1 << 16)
#define MB1_FLAGS (MB1_PAGE_ALIGN_MODULES | MB1_MEMORY_INFO | MB1_ADDRESS_FIELDS)
    .section .multiboot1, "a"
    .balign 4
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)
    .long mb1_header          /* header_addr */
    .long __image_start_phys  /* load_addr: the flat file's first byte */
    .long __image_end_phys    /* load_end_addr: .bss is in the file, as zeros */
    .long __image_end_phys    /* bss_end_addr: nothing to clear beyond it */
    .long boot_entry32        /* entry_addr */
