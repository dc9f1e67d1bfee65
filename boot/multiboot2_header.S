/*
 * Multiboot2 header (Multiboot2 spec, section 3.1). Placed first in the image so it is
 * inside the first 32 KiB. We ask for the 32-bit entry through an entry-address tag
 * because GRUB refuses an ELF64 whose e_entry is above 4 GiB, and our ELF entry is.
 */
#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0
    .section .multiboot2, "a"
    .balign 8
mb2_header_start:
    .long MB2_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header_start
    .long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header_start))

    /* Entry address tag (type 3): where GRUB jumps, in 32-bit protected mode. */
    .balign 8
    .short 3
    .short 0
    .long 12
    .long boot_entry32

    /* Module alignment tag (type 6): modules start on page boundaries. */
    .balign 8
    .short 6
    .short 0
    .long 8

    /* End tag. */
    .balign 8
    .short 0
    .short 0
    .long 8
mb2_header_end:
