#pragma once
// bench/ptx_probe's Hopper probes (sm_90a through the program's PTX, see
// ptx_probe_util.h): warp-group products and the GEMMs built on them.
#include "ptx_probe_util.h"

namespace ptx_probe {

// wgmma m64n8k16 from local-memory descriptors: which core-matrix layout is
// exact; then the rate of m64n64k16 alone.
bool check_and_time_wgmma(Cl& cl, size_t groups, unsigned iters);
// Both operands staged by cp.async (--only wgmma_gemm).
bool check_and_time_wgmma_gemm(Cl& cl, int bn, int bk, int stages, int inflight, int ni, bool dyn, bool swap);
// A from global memory straight into the A fragments (--only wgmma_gemm_rs).
bool check_and_time_wgmma_gemm_rs(Cl& cl, int bn, int nwg, int stages);
// Bulk copies into mbarriers, clusters sharing B (--only cluster_gemm).
bool check_and_time_cluster_gemm(Cl& cl, int bn, int bk, int stages, int cm);

}  // namespace ptx_probe
