// Prepended to every vdrt OpenCL kernel (docs/gpu_kernels.md): the helpers
// that keep a kernel's arguments in the layout kernels/gpu plans for.

// A bound tensor arrives as a buffer and a byte offset into it (the
// session's arena), so one buffer serves every tensor without sub-buffers,
// whose origins drivers require to be aligned far beyond vdrt's 64 bytes.
#define BUF(T, name) global T* name##_base, ulong name##_off
#define AT(T, name) global T* name = (global T*)((global char*)name##_base + name##_off)

// The flat work-group index of a dispatch folded into y and z by
// gpu::set_groups_1d when x alone would exceed the device's limit.
inline uint flat_group(void) {
  return (uint)get_group_id(0) + (uint)get_num_groups(0) * ((uint)get_group_id(1) + (uint)get_num_groups(1) * (uint)get_group_id(2));
}
