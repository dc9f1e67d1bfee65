/*
 * Entry of every guest test kernel: a Multiboot (v1) header, so the same ELF boots
 * under Vireo and under `qemu-system-x86_64 -kernel`, and the 32-bit entry, which sets
 * up a stack, a GDT and an IDT, then calls guest_main(magic, info).
 */
    .section .multiboot, "a"
    .balign 4
    .long 0x1badb002               /* magic (Multiboot spec 3.1.1) */
    .long 0                        /* flags: an ELF kernel needs none */
    .long -0x1badb002              /* checksum */

    .text
    .globl _start
_start:
    cli
    movl $stack_top, %esp
    pushl %ebx
    pushl %eax
    call runtime_init              /* GDT, IDT */
    call guest_main                /* (magic, info) -> exit code */
    pushl %eax
    call guest_exit
1:  hlt
    jmp 1b

    /* Interrupt and exception stubs: push a zero error code where the CPU pushes none,
       then the vector, then call trap_handler(frame). */
.macro STUB vector
    .globl trap_stub_\vector
trap_stub_\vector:
    .if (\vector == 8) || ((\vector >= 10) && (\vector <= 14)) || (\vector == 17)
    .else
    pushl $0
    .endif
    pushl $\vector
    jmp trap_common
.endm
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    STUB \v
    .endr
    STUB 64
    STUB 65

trap_common:
    pushal
    pushl %esp                     /* struct TrapFrame* */
    call trap_handler
    addl $4, %esp
    popal
    addl $8, %esp                  /* vector and error code */
    iret

    .bss
    .balign 16
    .skip 16384
stack_top:
    .globl second_stack_top
    .skip 16384
second_stack_top:
