#pragma once
// Runtime state an op reads besides its tensor inputs, bound per node by the
// runtime (Session::bind_state) and handed to the kernel with each run. The
// graph only knows that an op needs one (OpSchema::runtime_state); what the
// state holds is agreed between the op's kernels and the runtime code that
// binds it. Example: vdrt.PBSAttention and vdrt.HSAttention read the KV cache
// the rollout owns through kernels/sparse_kv_state.h.
namespace vdrt {

class OpState {
 public:
  virtual ~OpState() = default;
};

}  // namespace vdrt
