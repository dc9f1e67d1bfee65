/*
 * Start-up code of vCPU 1 for tests/guests/ipi_wake.cpp, and its IPI handler's stub.
 *
 * vCPU 0 copies [ipi_trampoline_start, ipi_trampoline_end) to physical ipi_trampoline_phys
 * (below 1 MiB, 4 KiB aligned) and sends INIT, SIPI, SIPI with vector
 * ipi_trampoline_phys >> 12 (Intel SDM vol. 3A, "MP Initialization Example", "Typical BSP
 * Initialization Sequence"). The AP starts here in real mode at CS:IP = (vector << 8):0000
 * ("Typical AP Initialization Sequence"), loads a flat GDT, turns protection on and calls
 * ipi_trampoline_entry on the stack ipi_trampoline_stack, both filled in by vCPU 0 before
 * the copy. Addresses inside the copy are ipi_trampoline_phys plus the offset from
 * ipi_trampoline_start.
 */
#define TRAMPOLINE_PHYS 0x70000
#define ABS(label) (TRAMPOLINE_PHYS + ((label) - ipi_trampoline_start))

    .globl ipi_trampoline_phys
    .set ipi_trampoline_phys, TRAMPOLINE_PHYS

    .text
    .code16
    .globl ipi_trampoline_start
ipi_trampoline_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (gdt_pointer - ipi_trampoline_start)
    /* CR0 loaded whole: after INIT, CD and NW keep what they had (SDM vol. 3A, the table of
       processor states following power-up, reset or INIT). */
    movl $0x00000031, %eax         /* PE, ET, NE */
    movl %eax, %cr0
    ljmpl $0x08, $ABS(protected_mode)

    .code32
protected_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl ABS(ipi_trampoline_stack), %esp
    call *ABS(ipi_trampoline_entry)
1:  cli
    hlt
    jmp 1b

    .balign 8
gdt:                               /* the same selectors as the runtime's (lib/runtime.cpp) */
    .quad 0
    .quad 0x00cf9a000000ffff       /* 0x08: 32-bit flat code */
    .quad 0x00cf92000000ffff       /* 0x10: flat data */
gdt_end:
gdt_pointer:
    .short gdt_end - gdt - 1
    .long ABS(gdt)

    .balign 4
    .globl ipi_trampoline_stack, ipi_trampoline_entry
ipi_trampoline_stack: .long 0
ipi_trampoline_entry: .long 0
    .globl ipi_trampoline_end
ipi_trampoline_end:

    /* The IPI's interrupt gate points here: the handler is C (ipi_interrupt). */
    .globl ipi_vector_stub
ipi_vector_stub:
    pushal
    cld
    call ipi_interrupt
    popal
    iret
