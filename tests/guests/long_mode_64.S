/*
 * Long mode (AMD APM vol. 2, 14.6): identity-map the first GiB with 2 MiB pages, set
 * CR4.PAE, EFER.LME, CR0.PG, far-jump into a 64-bit code segment. The checks then run
 * in 64-bit code and end the domain through port 0xf4 (0 = every check passed).
 */
    .text
    .code32
    .globl enter_long_mode
enter_long_mode:
    cli
    movl $pdpt + 3, pml4
    movl $pd + 3, pdpt
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax                /* present, writable, 2 MiB */
    movl %eax, pd(, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    movl %cr0, %eax
    orl $(1 << 31), %eax
    movl %eax, %cr0
    lgdt gdt64_pointer
    ljmp $0x08, $long_mode_main

    .code64
long_mode_main:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %ss
    movq $stack64_top, %rsp
    xorl %r15d, %r15d              /* failed checks */
    /* Intel takes VMCALL, AMD VMMCALL (the other is #UD): patch nothing, just remember. */
    xorl %eax, %eax
    cpuid
    xorl %r14d, %r14d
    cmpl $0x756e6547, %ebx         /* "Genu" */
    sete %r14b

    /* 1. CPUID leaf 0x40000000 in 64-bit mode: "VireoVireoHV". */
    movl $0x40000000, %eax
    cpuid
    cmpl $0x65726956, %ebx         /* "Vire" */
    jne 2f
    cmpl $0x7269566f, %ecx         /* "oVir" */
    jne 2f
    cmpl $0x56486f65, %edx         /* "eoHV" */
    jne 2f
    leaq msg_cpuid(%rip), %rsi
    call report_ok
    jmp 3f
2:  leaq msg_cpuid(%rip), %rsi
    call report_fail
3:
    /* 2. version hypercall with the upper half of RAX clear. */
    xorl %eax, %eax
    call hypercall64
    cmpq $12, %rax  /* kVersionValue (kernel/vm/hypercall_abi.hpp): 0.12; long_mode.cpp asserts it */
    leaq msg_version(%rip), %rsi
    call report

    /* 3. console_write from an address above 4 GiB: -14 (fault), all 64 bits. */
    movq $1, %rax
    movabsq $0x100100000, %rbx
    movq $8, %rcx
    call hypercall64
    cmpq $-14, %rax
    leaq msg_fault(%rip), %rsi
    call report

    /* 4. EFER shows LME and LMA, and no SVME. */
    movl $0xc0000080, %ecx
    rdmsr
    andl $((1 << 8) | (1 << 10) | (1 << 12)), %eax
    cmpl $((1 << 8) | (1 << 10)), %eax
    leaq msg_efer(%rip), %rsi
    call report

    /* 5. Upper halves of registers survive an exit (CPUID writes only RAX..RDX). */
    movabsq $0x1122334455667788, %r8
    movabsq $0x99aabbccddeeff00, %rsi
    movl $0, %eax
    cpuid
    movabsq $0x1122334455667788, %rax
    cmpq %rax, %r8
    jne 4f
    movabsq $0x99aabbccddeeff00, %rax
    cmpq %rax, %rsi
4:  leaq msg_regs(%rip), %rsi
    call report

    testl %r15d, %r15d
    jnz 5f
    leaq msg_pass(%rip), %rsi
    call puts64
    xorl %eax, %eax
    outl %eax, $0xf4
5:  leaq msg_failed(%rip), %rsi
    call puts64
    movl $1, %eax
    outl %eax, $0xf4
6:  hlt
    jmp 6b

/* report: ZF set -> "ok   <name>", else "FAIL <name>" and count it. */
report:
    jne report_fail
report_ok:
    pushq %rsi
    leaq msg_ok(%rip), %rsi
    call puts64
    popq %rsi
    call puts64
    ret
report_fail:
    incl %r15d
    pushq %rsi
    leaq msg_fail(%rip), %rsi
    call puts64
    popq %rsi
    call puts64
    ret

hypercall64:
    testl %r14d, %r14d
    jnz 1f
    vmmcall
    ret
1:  vmcall
    ret

puts64:
    movw $0x3f8, %dx
1:  lodsb
    testb %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  ret

    .section .rodata
msg_ok:      .asciz "ok   "
msg_fail:    .asciz "FAIL "
msg_cpuid:   .asciz "64-bit CPUID leaf 0x40000000 says VireoVireoHV\n"
msg_version: .asciz "64-bit version hypercall returns the version\n"
msg_fault:   .asciz "64-bit console_write from above 4 GiB returns -14 in all of RAX\n"
msg_efer:    .asciz "EFER has LME and LMA, not SVME\n"
msg_regs:    .asciz "64-bit registers keep their upper halves across an exit\n"
msg_pass:    .asciz "RESULT: PASS long_mode\n"
msg_failed:  .asciz "RESULT: FAIL long_mode\n"

    .balign 16
gdt64:
    .quad 0
    .quad 0x00af9a000000ffff       /* 64-bit code */
    .quad 0x00cf92000000ffff       /* data */
gdt64_pointer:
    .short gdt64_pointer - gdt64 - 1
    .long gdt64

    .bss
    .balign 4096
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096
    .skip 8192
stack64_top:
