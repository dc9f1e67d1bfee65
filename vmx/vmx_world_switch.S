/*
 * vmx_world_switch(guest_gprs, launched): enter the guest with VMLAUNCH (first time) or
 * VMRESUME, and come back at vmx_exit_entry on the next VM exit. VM exit loads the host
 * state from the VMCS (SDM vol. 3C, 28.5): RSP and RIP set here, segment and control
 * registers set by vmx_vcpu.cpp. The guest's RAX..R15 except RSP are swapped here, from
 * and to `guest_gprs` (GuestRegisters order); RSP, RIP and RFLAGS live in the VMCS.
 * Returns 0 after a VM exit, 1 when VMLAUNCH/VMRESUME itself failed (VMfail: the VMCS's
 * instruction-error field says why).
 */
#define GPR(n) (8 * (n))
#define HOST_RSP 0x6c14

    .text
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
    movq GPR(1)(%rax), %rcx
    movq GPR(2)(%rax), %rdx
    movq GPR(3)(%rax), %rbx
    movq GPR(5)(%rax), %rbp
    movq GPR(6)(%rax), %rsi
    movq GPR(7)(%rax), %rdi
    movq GPR(8)(%rax), %r8
    movq GPR(9)(%rax), %r9
    movq GPR(10)(%rax), %r10
    movq GPR(11)(%rax), %r11
    movq GPR(12)(%rax), %r12
    movq GPR(13)(%rax), %r13
    movq GPR(14)(%rax), %r14
    movq GPR(15)(%rax), %r15
    movq GPR(0)(%rax), %rax         /* flags from the test above survive the moves */
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
    movq %rcx, GPR(1)(%rax)
    movq %rdx, GPR(2)(%rax)
    movq %rbx, GPR(3)(%rax)
    movq %rbp, GPR(5)(%rax)
    movq %rsi, GPR(6)(%rax)
    movq %rdi, GPR(7)(%rax)
    movq %r8, GPR(8)(%rax)
    movq %r9, GPR(9)(%rax)
    movq %r10, GPR(10)(%rax)
    movq %r11, GPR(11)(%rax)
    movq %r12, GPR(12)(%rax)
    movq %r13, GPR(13)(%rax)
    movq %r14, GPR(14)(%rax)
    movq %r15, GPR(15)(%rax)
    popq %rcx
    movq %rcx, GPR(0)(%rax)
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
