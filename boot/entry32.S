/*
 * The 32-bit entry GRUB jumps to (Multiboot2 spec 3.3: EAX = 0x36d76289, EBX = physical
 * address of the boot information, protected mode, paging off, interrupts off; a
 * Multiboot version 1 loader such as QEMU's -kernel enters the same way with EAX =
 * 0x2badb002, spec 0.6.96 3.2), and the
 * climb to long mode (AMD APM vol. 2, 14.6 "Enabling and Activating Long Mode"):
 * PAE on, a PML4 in CR3, EFER.LME, then CR0.PG.
 *
 * The early page tables map the first 4 GiB twice, at 0 (identity, for this code) and
 * at the direct-map base, and map physical 0..1 GiB at KERNEL_VMA, where the kernel is
 * linked. mm/ replaces them with the final W^X tables soon after.
 */
#define KERNEL_VMA 0xffffffff80000000
#define EFER_MSR 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define PTE_PRESENT_WRITE 0x3
#define PDE_LARGE_PRESENT_WRITE 0x83
#define COM1 0x3f8

    .section .boot.text, "ax"
    .code32
    .globl boot_entry32
boot_entry32:
    cli
    cld
    movl %eax, %edi                /* the loader's magic: first argument of kernel_main */
    movl %ebx, %esi                /* boot information: second argument */
    movl $boot_stack_top, %esp

    /* Long mode is the one thing we cannot do without: say so on COM1 and stop. */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    btl $29, %edx
    jnc no_long_mode
    /* The page tables mark data non-executable (W^X): without NX that bit is reserved. */
    btl $20, %edx
    jnc no_nx

    /* PML4[0] -> identity PDPT, PML4[511] -> kernel PDPT. */
    movl $boot_pdpt_identity + PTE_PRESENT_WRITE, boot_pml4
    movl $boot_pdpt_kernel + PTE_PRESENT_WRITE, boot_pml4 + 511 * 8
    /* PML4[256] -> identity PDPT too: the direct map of physical memory (kernel/
       memory_layout.hpp) works from the first C++ line for the low 4 GiB. */
    movl $boot_pdpt_identity + PTE_PRESENT_WRITE, boot_pml4 + 256 * 8
    /* Identity PDPT[0..3] -> the four page directories; kernel PDPT[510] -> the first. */
    movl $boot_pd + PTE_PRESENT_WRITE, boot_pdpt_identity
    movl $boot_pd + 0x1000 + PTE_PRESENT_WRITE, boot_pdpt_identity + 8
    movl $boot_pd + 0x2000 + PTE_PRESENT_WRITE, boot_pdpt_identity + 16
    movl $boot_pd + 0x3000 + PTE_PRESENT_WRITE, boot_pdpt_identity + 24
    movl $boot_pd + PTE_PRESENT_WRITE, boot_pdpt_kernel + 510 * 8
    /* 2048 large pages of 2 MiB cover 4 GiB; the high dword of each entry stays 0 except
       for the bit 32 part of the address, which is 0 below 4 GiB. */
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $PDE_LARGE_PRESENT_WRITE, %eax
    movl %eax, boot_pd(, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jne 1b

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $EFER_MSR, %ecx
    rdmsr
    orl $(EFER_LME | EFER_NXE), %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PG | CR0_WP | CR0_PE), %eax
    movl %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $boot_entry64

no_nx:
    movl $no_nx_message, %esi
    jmp print_and_halt
no_long_mode:
    movl $no_long_mode_message, %esi
print_and_halt:
3:  lodsb
    testb %al, %al
    jz 5f
    movb %al, %bl
    movw $COM1 + 5, %dx
4:  inb %dx, %al                   /* wait for the transmitter holding register */
    testb $0x20, %al
    jz 4b
    movb %bl, %al
    movw $COM1, %dx
    outb %al, %dx
    jmp 3b
5:  hlt
    jmp 5b

    .code64
boot_entry64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $kernel_entry64, %rax
    jmp *%rax

    .section .boot.data, "aw"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff       /* 0x08: 64-bit code, present, DPL 0 */
    .quad 0x00cf92000000ffff       /* 0x10: data, present, writable */
boot_gdt_end:
boot_gdt_pointer:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
no_long_mode_message:
    .asciz "vireo: this CPU has no 64-bit long mode; Vireo needs an x86_64 processor. Halted.\r\n"
no_nx_message:
    .asciz "vireo: this CPU has no NX (execute-disable) bit, which Vireo needs to keep code and data apart. Halted.\r\n"

    .section .boot.bss, "aw"
    .balign 4096
boot_pml4:          .skip 4096
boot_pdpt_identity: .skip 4096
boot_pdpt_kernel:   .skip 4096
boot_pd:            .skip 4 * 4096
boot_stack:         .skip 4096
boot_stack_top:

    .text
    .globl kernel_entry64
kernel_entry64:
    movabsq $bsp_boot_stack_top, %rsp
    xorl %ebp, %ebp
    /* Seed the stack-protector canary before the first protected frame exists. */
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    movabsq $0x5bd1e995c0ffee00, %rdx
    xorq %rdx, %rax
    movq %rax, __stack_chk_guard(%rip)
    movl %edi, %edi
    movl %esi, %esi
    call kernel_main
6:  cli
    hlt
    jmp 6b

    .bss
    .balign 4096
    /* Left unmapped by mm (kernel_address_space.cpp): an overflow of the boot CPU's
       stack faults here instead of overwriting what lies below. */
    .globl bsp_boot_stack_guard
bsp_boot_stack_guard:
    .skip 4096
    .globl bsp_boot_stack_top
bsp_boot_stack:
    .skip 32768
bsp_boot_stack_top:
