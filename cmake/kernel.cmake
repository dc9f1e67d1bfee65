# Flags and link steps for the freestanding hypervisor image.
find_program(VIREO_LLD NAMES ld.lld-14 ld.lld REQUIRED)
find_program(VIREO_NM NAMES llvm-nm-14 llvm-nm REQUIRED)
find_program(VIREO_OBJCOPY NAMES llvm-objcopy-14 llvm-objcopy REQUIRED)
find_program(VIREO_CXXFILT NAMES llvm-cxxfilt-14 llvm-cxxfilt REQUIRED)
find_program(VIREO_GRUB_MKRESCUE NAMES grub-mkrescue REQUIRED)
# Every image is a hybrid: a CD and a disk with an MBR. Its partition's ending CHS is what
# QEMU guesses the disk's geometry from (hw/block/hdgeometry.c), and GRUB's BIOS disk
# driver reads at most to the end of a track; without alignment, the ending CHS follows
# the image's size, and an image a few KiB larger read 4 sectors per BIOS call instead of
# 28 (loading Debian's kernel took 3 s instead of 0.45 under TCG). Padded to whole
# cylinders of xorriso's 64 heads x 32 sectors, every image reads 32 sectors per call.
set(VIREO_GRUB_MKRESCUE_OPTIONS -partition_cyl_align on)

# Why each flag: no exceptions/RTTI (no unwinder in the kernel); no red zone (interrupts
# and exceptions push onto the current stack); no SSE/x87 (hypervisor code must never
# clobber guest FPU state it has not saved); kernel code model (linked at -2 GiB); frame
# pointers for the panic backtrace; stack protector so smashed stacks panic.
set(VIREO_KERNEL_COMPILE_OPTIONS
  --target=x86_64-elf -ffreestanding -nostdlibinc
  -fno-pic -mcmodel=kernel -mno-red-zone -mgeneral-regs-only
  -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
  -fstack-protector-strong -ffunction-sections -fdata-sections
  -O2 -g -Wall -Wextra -Werror
  $<$<COMPILE_LANGUAGE:CXX>:-std=c++20 -fno-exceptions -fno-rtti -fno-use-cxa-atexit -fno-threadsafe-statics -Wno-c99-designator>
  $<$<COMPILE_LANGUAGE:C>:-std=c11>)

set_property(GLOBAL PROPERTY VIREO_KERNEL_OBJECT_LIBS "")

# vireo_kernel_sources(<name> <sources...>): sources built only into the hypervisor.
function(vireo_kernel_sources name)
  add_library(${name} OBJECT ${ARGN})
  target_compile_options(${name} PRIVATE ${VIREO_KERNEL_COMPILE_OPTIONS})
  target_compile_definitions(${name} PRIVATE VIREO_KERNEL=1)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
  target_include_directories(${name} SYSTEM PRIVATE ${VIREO_NEWLIB_INCLUDE})
  set_property(GLOBAL APPEND PROPERTY VIREO_KERNEL_OBJECT_LIBS ${name})
endfunction()

# vireo_shared_sources(<name> <sources...>): pure logic built into the hypervisor and,
# as <name>_host, into the host unit tests.
function(vireo_shared_sources name)
  vireo_kernel_sources(${name} ${ARGN})
  if(VIREO_HOST_TESTS)
    vireo_host_library(${name}_host ${ARGN})
    set_property(GLOBAL APPEND PROPERTY VIREO_HOST_LIBS ${name}_host)
  endif()
endfunction()

function(vireo_link_hypervisor)
  get_property(libs GLOBAL PROPERTY VIREO_KERNEL_OBJECT_LIBS)
  set(objects "")
  foreach(lib IN LISTS libs)
    list(APPEND objects "$<TARGET_OBJECTS:${lib}>")
  endforeach()
  set(ld_flags -nostdlib -static --gc-sections -z max-page-size=4096 --no-undefined
               -T ${CMAKE_SOURCE_DIR}/linker.ld)
  set(libc "${VIREO_NEWLIB_PREFIX}/lib/libc.a")
  set(stage1 "${CMAKE_BINARY_DIR}/vireo.stage1.elf")
  set(ksyms_s "${CMAKE_BINARY_DIR}/ksyms.S")
  set(ksyms_o "${CMAKE_BINARY_DIR}/ksyms.o")
  set(final "${CMAKE_BINARY_DIR}/vireo.elf")
  # Pass 1 links without a symbol table; its symbols become ksyms.S; pass 2 links the
  # same objects plus ksyms.o, which lands in the last section and moves nothing.
  add_custom_command(OUTPUT ${stage1}
    COMMAND ${VIREO_LLD} ${ld_flags} -o ${stage1} ${objects} ${libc}
    DEPENDS ${libs} ${objects} ${CMAKE_SOURCE_DIR}/linker.ld ${libc}
    COMMAND_EXPAND_LISTS
    COMMENT "Linking hypervisor (pass 1)")
  add_custom_command(OUTPUT ${ksyms_o}
    COMMAND ${CMAKE_SOURCE_DIR}/cmake/gen-ksyms.sh ${VIREO_NM} ${VIREO_CXXFILT} ${stage1} ${ksyms_s}
    COMMAND ${CMAKE_C_COMPILER} --target=x86_64-elf -c ${ksyms_s} -o ${ksyms_o}
    DEPENDS ${stage1} ${CMAKE_SOURCE_DIR}/cmake/gen-ksyms.sh
    COMMENT "Generating the symbol table for backtraces")
  add_custom_command(OUTPUT ${final}
    COMMAND ${VIREO_LLD} ${ld_flags} -o ${final} ${objects} ${ksyms_o} ${libc}
    COMMAND ${CMAKE_SOURCE_DIR}/cmake/gen-ksyms.sh --check ${VIREO_NM} ${stage1} ${final}
    DEPENDS ${ksyms_o} ${stage1}
    COMMAND_EXPAND_LISTS
    COMMENT "Linking hypervisor (pass 2): vireo.elf")
  # What the boot images carry: vireo.elf without its debug information. GRUB's
  # Multiboot2 loader reads every section of the file, so the 2 MB of DWARF cost each
  # boot about 0.45 s under QEMU's TCG; backtraces use the symbol table linked in
  # (ksyms), and debuggers take vireo.elf itself.
  set(boot_elf "${CMAKE_BINARY_DIR}/vireo-boot.elf")
  add_custom_command(OUTPUT ${boot_elf}
    COMMAND ${VIREO_OBJCOPY} --strip-debug ${final} ${boot_elf}
    DEPENDS ${final}
    COMMENT "vireo-boot.elf: vireo.elf without debug information, for the boot images")
  # The same image flat, from its first byte at KERNEL_LMA, for loaders of Multiboot
  # version 1 that take no ELF64 (QEMU's -kernel: boot/multiboot1_header.S).
  set(boot_bin "${CMAKE_BINARY_DIR}/vireo-boot.bin")
  add_custom_command(OUTPUT ${boot_bin}
    COMMAND ${VIREO_OBJCOPY} -O binary ${boot_elf} ${boot_bin}
    DEPENDS ${boot_elf}
    COMMENT "vireo-boot.bin: the image flat, for QEMU's -kernel (Multiboot version 1)")
  add_custom_target(hypervisor ALL DEPENDS ${final} ${boot_elf} ${boot_bin})
endfunction()

function(vireo_make_iso)
  set(iso "${CMAKE_BINARY_DIR}/vireo.iso")
  set(root "${CMAKE_BINARY_DIR}/isoroot")
  add_custom_command(OUTPUT ${iso}
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${root}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${root}/boot/grub
    COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_BINARY_DIR}/vireo-boot.elf ${root}/boot/vireo.elf
    COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_BINARY_DIR}/vireo-boot.bin ${root}/boot/vireo.bin
    COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/boot/grub.cfg ${root}/boot/grub/grub.cfg
    COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/boot/sample-module.txt ${root}/boot/sample-module.txt
    COMMAND ${VIREO_GRUB_MKRESCUE} -o ${iso} ${root} ${VIREO_GRUB_MKRESCUE_OPTIONS} > ${CMAKE_BINARY_DIR}/grub-mkrescue.log 2>&1
    DEPENDS ${CMAKE_BINARY_DIR}/vireo-boot.elf ${CMAKE_BINARY_DIR}/vireo-boot.bin ${CMAKE_SOURCE_DIR}/boot/grub.cfg
            ${CMAKE_SOURCE_DIR}/boot/sample-module.txt
    COMMENT "Making the GRUB image vireo.iso")
  # The same image with the Multiboot version 1 entry as its default (Bochs has no SMBIOS
  # OEM strings to pick an entry with), from its own copy of the tree.
  set(mb1_iso "${CMAKE_BINARY_DIR}/vireo-multiboot1.iso")
  set(mb1_root "${CMAKE_BINARY_DIR}/isoroot-multiboot1")
  add_custom_command(OUTPUT ${mb1_iso}
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${mb1_root}
    COMMAND ${CMAKE_COMMAND} -E copy_directory ${root} ${mb1_root}
    COMMAND sed "s/^set default=.*/set default=multiboot1/" ${CMAKE_SOURCE_DIR}/boot/grub.cfg > ${mb1_root}/boot/grub/grub.cfg
    COMMAND ${VIREO_GRUB_MKRESCUE} -o ${mb1_iso} ${mb1_root} ${VIREO_GRUB_MKRESCUE_OPTIONS} > ${mb1_iso}.log 2>&1
    DEPENDS ${iso}
    COMMENT "Making the GRUB image vireo-multiboot1.iso")
  add_custom_target(iso ALL DEPENDS ${iso} ${mb1_iso})
endfunction()

set_property(GLOBAL PROPERTY VIREO_HOST_LIBS "")
