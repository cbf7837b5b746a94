#version 450
// matmul_coopmat_f16.comp built with glslc -O (the build keeps -O0 for
// shaders named *coopmat*); VDRT_VK_GEMM_VARIANT flag 2 selects it.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#include "matmul_coopmat_f16.glsl"
