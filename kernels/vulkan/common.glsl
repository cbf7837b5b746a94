// Shared by every vdrt compute shader.
#extension GL_EXT_control_flow_attributes : enable

// The flat work-group index of a dispatch folded into y and z by
// vk::set_groups_1d when x alone would exceed the device's limit.
uint flat_group() {
  return gl_WorkGroupID.x + gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
}
