/*
 * One entry stub per IDT vector. Each pushes a zero error code where the CPU does not
 * push one (SDM vol. 3, table 6-1: 8, 10-14, 17, 21, 29, 30 have one), then the vector,
 * then all general registers, forming a TrapFrame (kernel/trap_frame.hpp), and calls
 * trap_dispatch(frame). 176 bytes of frame keep RSP 16-byte aligned at the call.
 */
    .text
.macro TRAP_STUB vector
    .balign 16
trap_stub_\vector:
    .if (\vector == 8) || ((\vector >= 10) && (\vector <= 14)) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushq $0
    .endif
    pushq $\vector
    jmp trap_common
.endm

.altmacro
.set vector, 0
.rept 256
    TRAP_STUB %vector
.set vector, vector + 1
.endr

trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    /* A frame pointer link to the interrupted code makes backtraces cross the trap. */
    movq 120 + 16(%rsp), %rax      /* interrupted RIP */
    pushq %rax
    pushq %rbp
    movq %rsp, %rbp
    call trap_dispatch
    addq $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

    /* The stub addresses, for idt.cpp. */
    .section .rodata
    .balign 8
    .globl trap_stub_table
trap_stub_table:
.macro STUB_ADDR vector
    .quad trap_stub_\vector
.endm
.set vector, 0
.rept 256
    STUB_ADDR %vector
.set vector, vector + 1
.endr
