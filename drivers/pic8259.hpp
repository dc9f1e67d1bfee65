// The legacy 8259 PIC pair: Vireo uses the local APIC and IOAPIC, so the PICs are
// remapped away from the exception vectors and fully masked.
#pragma once

void pic8259_remap_and_mask();
