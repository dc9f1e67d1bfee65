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
#define GPR(n) (8 * (n))
#define RCX 1
#define RDX 2
#define RBX 3
#define RBP 5
#define RSI 6
#define RDI 7

    .text
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
    movq %rsi, %rax
    vmsave

    movq %rdx, %rax
    movq GPR(RCX)(%rax), %rcx
    movq GPR(RDX)(%rax), %rdx
    movq GPR(RBX)(%rax), %rbx
    movq GPR(RBP)(%rax), %rbp
    movq GPR(RSI)(%rax), %rsi
    movq GPR(RDI)(%rax), %rdi
    movq GPR(8)(%rax), %r8
    movq GPR(9)(%rax), %r9
    movq GPR(10)(%rax), %r10
    movq GPR(11)(%rax), %r11
    movq GPR(12)(%rax), %r12
    movq GPR(13)(%rax), %r13
    movq GPR(14)(%rax), %r14
    movq GPR(15)(%rax), %r15
    movq 8(%rsp), %rax
    vmload
    vmrun
    vmsave                          /* RAX holds the VMCB address again (host RAX) */

    pushq %rax
    movq 24(%rsp), %rax             /* the guest GPR array */
    movq %rcx, GPR(RCX)(%rax)
    movq %rdx, GPR(RDX)(%rax)
    movq %rbx, GPR(RBX)(%rax)
    movq %rbp, GPR(RBP)(%rax)
    movq %rsi, GPR(RSI)(%rax)
    movq %rdi, GPR(RDI)(%rax)
    movq %r8, GPR(8)(%rax)
    movq %r9, GPR(9)(%rax)
    movq %r10, GPR(10)(%rax)
    movq %r11, GPR(11)(%rax)
    movq %r12, GPR(12)(%rax)
    movq %r13, GPR(13)(%rax)
    movq %r14, GPR(14)(%rax)
    movq %r15, GPR(15)(%rax)
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
