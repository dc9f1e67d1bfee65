/* Code for the domains the lifecycle test kernel creates (tests/guests/lifecycle.cpp).
 * Each piece is position independent 32-bit code that the control domain copies to
 * guest-physical 0x1000 of a fresh domain and starts in flat protected mode with paging
 * off; what it needs comes in registers the control domain sets through vcpu_set_state.
 * Data lives at 0x2000 of the child. */
    .code32
    .section .rodata
    .globl child_exit_start, child_exit_end
    .globl child_timer_start, child_timer_end
    .globl child_counter_start, child_counter_end, child_counter_dr_check, child_counter_dr_check_end
    .globl child_touch_start, child_touch_end
    .globl child_scan_start, child_scan_end

/* Ends the domain with exit code EBX through the test exit port. */
child_exit_start:
    movl %ebx, %eax
    outl %eax, $0xf4
1:  hlt
    jmp 1b
child_exit_end:

/* Arms the set_timer hypercall's timer for EBX microseconds (vector 0x40; interrupts
 * stay off, so it only stays pending), says it runs (0x2000 = 1), then counts at 0x2004
 * forever. Hypercalls are VMCALL on Intel (EDI != 0), VMMCALL on AMD. */
child_timer_start:
    movl $2, %eax           /* set_timer (docs/hypercalls.md) */
    movl $0x40, %ecx
    testl %edi, %edi
    jz 1f
    vmcall
    jmp 2f
1:  vmmcall
2:  movl $1, 0x2000
3:  incl 0x2004
    jmp 3b
child_timer_end:

/* Writes one word into pages 0x10, 0x30 and 0x50 (for the dirty log), then says it is
 * done (0x2000 = 1) and counts at 0x2004 forever: after that only page 2 changes. */
child_touch_start:
    movl $0x11, 0x10000
    movl $0x33, 0x30004
    movl $0x55, 0x50ff8
    movl $1, 0x2000
1:  incl 0x2004
    jmp 1b
child_touch_end:

/* ORs every word of [EBX, EDI) together and exits with 0 when all were zero, 1 when one
 * was not: memory a fresh domain touches first must read zero. No stack, no hypercall. */
child_scan_start:
    xorl %eax, %eax
1:  orl (%ebx), %eax
    addl $4, %ebx
    cmpl %edi, %ebx
    jb 1b
    testl %eax, %eax
    setnz %al
    movzbl %al, %eax
    outl %eax, $0xf4
2:  hlt
    jmp 2b
child_scan_end:

/* Counts at 0x2000 and in ESI, which must agree, with XMM0-XMM7 holding EBX+0..EBX+7
 * in every lane all along; exits with 0 once the count reaches EDI, or 1 at the first
 * disagreement (a state lost across a save and restore). With EBP non-zero it first sets
 * DRn = EBP + n * 100h (breakpoints stay disabled) and checks them at every count too,
 * exiting with 2 when one differs; a restored copy checks the values its state carries,
 * EBP included. */
child_counter_start:
    testl %ebp, %ebp
    jz 1f
    movl %ebp, %eax
    movl %eax, %dr0
    addl $0x100, %eax
    movl %eax, %dr1
    addl $0x100, %eax
    movl %eax, %dr2
    addl $0x100, %eax
    movl %eax, %dr3
1:
    movl %cr0, %eax
    andl $~4, %eax          /* EM off */
    orl $2, %eax            /* MP on */
    movl %eax, %cr0
    movl %cr4, %eax
    orl $0x600, %eax        /* OSFXSR, OSXMMEXCPT */
    movl %eax, %cr4
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7
    leal \n(%ebx), %eax
    movd %eax, %xmm\n
    pshufd $0, %xmm\n, %xmm\n
    .endr
    xorl %esi, %esi
    movl $0, 0x2000
2:  incl 0x2000
    incl %esi
    cmpl 0x2000, %esi
    jne 3f
    .irp n, 0, 1, 2, 3, 4, 5, 6, 7
    pshufd $0x39, %xmm\n, %xmm\n    /* rotate the lanes: each must still hold the value */
    movd %xmm\n, %eax
    leal \n(%ebx), %ecx
    cmpl %ecx, %eax
    jne 3f
    .endr
child_counter_dr_check:     /* to 5: a state taken in here has ECX/EAX from the old DRs */
    testl %ebp, %ebp
    jz 5f
    movl %ebp, %ecx
    .irp n, 0, 1, 2, 3
    movl %dr\n, %eax
    cmpl %ecx, %eax
    jne 6f
    addl $0x100, %ecx
    .endr
5:
child_counter_dr_check_end:
    cmpl %edi, %esi
    jb 2b
    xorl %eax, %eax
    outl %eax, $0xf4
    jmp 4f
3:  movl $1, %eax
    outl %eax, $0xf4
    jmp 4f
6:  movl $2, %eax
    outl %eax, $0xf4
4:  hlt
    jmp 4b
child_counter_end:
