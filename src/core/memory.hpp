// Memory facts about this process, for logs and reports.
#pragma once

namespace fresnel {

// Peak resident memory of this process (VmHWM) in MiB, or −1 when unknown.
double peak_memory_mib();

}  // namespace fresnel
