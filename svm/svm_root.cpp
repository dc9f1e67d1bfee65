// AMD-V root mode on one CPU (AMD APM vol. 2, 15.4 "Enabling SVM" and 15.30.4 "VM_HSAVE_PA").
#include "kernel/log.hpp"
#include "kernel/root_mode.hpp"
#include "kernel/x86/hardware_cpu.hpp"
#include "kernel/x86/instructions.hpp"
#include "kernel/x86/msr.hpp"
#include "mm/kernel_address_space.hpp"

bool svm_enter_root_mode(PerCpu& cpu, const char** error) {
    HardwareCpu hw;
    const VirtualizationSupport support = detect_virtualization(hw);
    if (support.vendor != VirtualizationVendor::AmdSvm || support.status != VirtualizationStatus::Usable) {
        *error = describe_virtualization(support);
        return false;
    }
    // VMRUN saves host state into this 4 KiB page; it must be page-aligned and is
    // never touched by software (APM 15.30.4).
    const PhysAddr host_save_area = frame_alloc(1);
    if (host_save_area == kNoPhysFrame) {
        *error = "out of memory for the SVM host save area";
        return false;
    }
    x86::wrmsr(Msr::Efer, x86::rdmsr(Msr::Efer) | msr_bits::kEferSvme);
    x86::wrmsr(Msr::VmHsavePa, host_save_area);
    if (!(x86::rdmsr(Msr::Efer) & msr_bits::kEferSvme) || x86::rdmsr(Msr::VmHsavePa) != host_save_area) {
        frame_free(host_save_area);
        *error = "EFER.SVME or VM_HSAVE_PA did not keep the value written";
        return false;
    }
    // VMSAVE/VMLOAD keep the host's FS/GS/TR/... here around each VMRUN.
    const PhysAddr vmsave_area = frame_alloc(1);
    if (vmsave_area == kNoPhysFrame) {
        *error = "out of memory for the SVM host VMSAVE area";
        return false;
    }
    cpu.svm_host_vmsave_area = vmsave_area;
    // RDTSCP is hidden from guests and intercepted (#UD), but QEMU's TCG reports it as
    // RDTSC, which is not intercepted: a guest would read TSC_AUX. Vireo itself never
    // uses it, so it holds nothing (not the CPU number an OS would put there).
    if (x86::cpuid(0x80000001).edx & (1u << 27)) x86::wrmsr(Msr::TscAux, 0);
    cpu.root_mode_area = host_save_area;
    cpu.root_mode = RootMode::Svm;
    log_debug("svm: root mode on (EFER.SVME=1), host save area at %#llx", (unsigned long long)host_save_area);
    return true;
}
