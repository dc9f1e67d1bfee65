/*
 * A flat real-mode binary (no ELF): Vireo loads it at 0x7c00 and starts it at
 * 0000:7C00, as a BIOS starts a boot sector. It prints through COM1, checks CPUID's
 * hypervisor leaf with 32-bit registers, and exits through port 0xf4.
 */
    .code16
    .text
    .globl _start
_start:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %ss
    movw $0x7c00, %sp
    movw $msg_hello, %si
    call puts16
    movl $0x40000000, %eax
    cpuid
    cmpl $0x65726956, %ebx         /* "Vire" */
    jne fail
    cmpl $0x56486f65, %edx         /* "eoHV" */
    jne fail
    movw $msg_pass, %si
    call puts16
    xorl %eax, %eax
    outl %eax, $0xf4
fail:
    movw $msg_fail, %si
    call puts16
    movl $1, %eax
    outl %eax, $0xf4
1:  hlt
    jmp 1b

puts16:
    movw $0x3f8, %dx
1:  lodsb
    testb %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  ret

msg_hello: .asciz "hello from real mode at 0000:7c00\n"
msg_pass:  .asciz "RESULT: PASS real_mode\n"
msg_fail:  .asciz "RESULT: FAIL real_mode\n"
