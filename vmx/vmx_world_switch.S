/*
 * vmx_world_switch(guest_gprs, launched): enter the guest with VMLAUNCH (first time) or
 * VMRESUME, and come back at vmx_exit_entry on the next VM exit. VM exit loads the host
 * state from the VMCS (SDM vol. 3C, 28.5): RSP and RIP set here, segment and control
 * registers set by vmx_vcpu.cpp. The guest's RAX..R15 except RSP are swapped here, from
 * and to `guest_gprs` (GuestRegisters order); RSP, RIP and RFLAGS live in the VMCS.
 * Returns 0 after a VM exit, 1 when VMLAUNCH/VMRESUME itself failed (VMfail: the VMCS's
 * instruction-error field says why).
 */
#include "kernel/vm/guest_gprs.inc"
#define HOST_RSP 0x6c14

    /* On the exit fast path: with the rest of it (kernel/hot_path.hpp). */
    .section .text.hot, "ax", @progbits
    .globl vmx_world_switch
vmx_world_switch:
    pushq %rbp
    movq %rsp, %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi                      /* (%rsp) at the exit: the guest GPR array */
    movq $HOST_RSP, %rax
    vmwrite %rsp, %rax
    movl %esi, %eax                 /* launched? */
    testl %eax, %eax
    movq %rdi, %rax
    LOAD_GUEST_GPRS_FROM_RAX
    movq GUEST_GPR(0)(%rax), %rax         /* flags from the test above survive the moves */
    jnz 1f
    vmlaunch
    jmp vmx_entry_failed
1:  vmresume
vmx_entry_failed:
    popq %rdi
    movl $1, %eax
    jmp vmx_return

    .globl vmx_exit_entry
vmx_exit_entry:
    pushq %rax                      /* guest RAX */
    movq 8(%rsp), %rax              /* the guest GPR array */
    SAVE_GUEST_GPRS_TO_RAX
    popq %rcx
    movq %rcx, GUEST_GPR(0)(%rax)
    popq %rdi
    xorl %eax, %eax
vmx_return:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
