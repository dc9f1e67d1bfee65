/*
 * Application-processor start-up code. The boot CPU copies this page to physical
 * kApTrampolinePhys (0x8000) and sends INIT-SIPI-SIPI with vector 0x08 (Intel SDM
 * vol. 3, 9.4.4 "MP Initialization Example"); the AP starts here in real mode at
 * CS:IP = 0800:0000, climbs through protected mode to long mode with the hypervisor's
 * page tables (whose PML4 is below 4 GiB for exactly this reason), and jumps to
 * ap_entry(cpu_index) on its own stack. The boot CPU fills the parameter block at the
 * end before each start-up. Descriptors have their accessed bit preset: the page is
 * mapped read-only once paging is on, and the CPU would otherwise write that bit.
 */
#define TRAMPOLINE_PHYS 0x8000
#define ABS(label) (TRAMPOLINE_PHYS + ((label) - ap_trampoline_start))
#define EFER_MSR 0xc0000080

    .section .ap_trampoline, "ax"
    .code16
    .globl ap_trampoline_start
ap_trampoline_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (ap_gdt_pointer - ap_trampoline_start)
    /* CR0 is loaded whole: after INIT, CD and NW keep whatever the firmware left in them
       (SDM vol. 3, table 9-1), and an AP must not run with caching off. */
    movl $0x00000031, %eax         /* PE, ET, NE */
    movl %eax, %cr0
    ljmpl $0x08, $ABS(ap_protected_mode)

    .code32
ap_protected_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $((1 << 5) | (1 << 7)), %eax   /* PAE, PGE */
    movl %eax, %cr4
    movl ABS(ap_param_cr3), %eax
    movl %eax, %cr3
    movl $EFER_MSR, %ecx
    rdmsr
    orl ABS(ap_param_efer_bits), %eax  /* LME, and NXE when the boot CPU has it */
    wrmsr
    movl $0x80010031, %eax         /* PG, WP, NE, ET, PE */
    movl %eax, %cr0
    ljmpl $0x18, $ABS(ap_long_mode)

    .code64
ap_long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq ABS(ap_param_stack), %rsp
    movl ABS(ap_param_cpu_index), %edi
    movq ABS(ap_param_entry), %rax
    xorl %ebp, %ebp
    call *%rax                     /* a call, so RSP+8 is 16-byte aligned on entry (SysV ABI) */
1:  hlt
    jmp 1b

    .balign 16
ap_gdt:
    .quad 0
    .quad 0x00cf9b000000ffff       /* 0x08: 32-bit code, accessed */
    .quad 0x00cf93000000ffff       /* 0x10: data, accessed */
    .quad 0x00af9b000000ffff       /* 0x18: 64-bit code, accessed */
ap_gdt_end:
ap_gdt_pointer:
    .short ap_gdt_end - ap_gdt - 1
    .long ABS(ap_gdt)

    /* Parameter block, filled by kernel/smp.cpp (struct ApStartParameters). */
    .balign 8
    .globl ap_trampoline_parameters
ap_trampoline_parameters:
ap_param_cr3:        .long 0
ap_param_efer_bits:  .long 0
ap_param_stack:      .quad 0
ap_param_entry:      .quad 0
ap_param_cpu_index:  .long 0
                     .long 0
    .globl ap_trampoline_end
ap_trampoline_end:
