/*
 * svm_world_switch(vmcb_pa, host_vmsave_pa, guest_gprs): one trip into the guest.
 * GIF is cleared for the whole sequence (AMD APM vol. 2, 15.17): between loading the
 * guest's FS/GS/TR (VMLOAD) and getting the host's back, no interrupt may run, because
 * the hypervisor finds its per-CPU data through the GS base. VMRUN itself saves and
 * restores only part of the host state (APM 15.5.1); VMSAVE/VMLOAD move the rest
 * (FS, GS, TR, LDTR, KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*) (APM 15.5.2).
 * Guest RAX and RSP live in the VMCB; the other general registers are swapped here,
 * from and to `guest_gprs`, an array in x86 register-number order (GuestRegisters).
 */
#include "kernel/vm/guest_gprs.inc"

    /* On the exit fast path: with the rest of it (kernel/hot_path.hpp). */
    .section .text.hot, "ax", @progbits
    .globl svm_world_switch
svm_world_switch:
    pushq %rbp
    movq %rsp, %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdx                      /* 16(%rsp): guest GPR array */
    pushq %rdi                      /*  8(%rsp): VMCB */
    pushq %rsi                      /*  0(%rsp): host VMSAVE area */

    clgi
    /* RFLAGS.IF decides whether host interrupts exit the guest (V_INTR_MASKING, APM
     * 15.21.1), so it is set, but only now, under GIF=0: an interrupt arriving before
     * VMRUN stays pending and makes the guest exit at once. Set before CLGI, it would
     * run here in the host instead, and a one-shot timer consumed so would leave the
     * guest running with no timer at all. */
    sti
    movq %rsi, %rax
    vmsave

    movq %rdx, %rax
    LOAD_GUEST_GPRS_FROM_RAX
    movq 8(%rsp), %rax
    vmload
    vmrun
    vmsave                          /* RAX holds the VMCB address again (host RAX) */

    pushq %rax
    movq 24(%rsp), %rax             /* the guest GPR array */
    SAVE_GUEST_GPRS_TO_RAX
    popq %rax

    movq 0(%rsp), %rax
    vmload
    stgi                            /* a host interrupt that caused the exit runs now */

    addq $24, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
