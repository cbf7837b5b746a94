# Shader variants built with -D defines: vdrt_vk_shader(NAME file.comp DEFINE=VALUE ...).
vdrt_vk_shader(flash_attention_coopmat_d64 flash_attention_coopmat.comp HEAD_DIM=64)  # attention.cpp
vdrt_vk_shader(flash_attention_f16_rows flash_attention_coopmat.comp KV_CONVERT=1)  # attention.cpp
vdrt_vk_shader(sparse_flash_coopmat_d64 sparse_flash_coopmat.comp HEAD_DIM=64)  # sparse_attention.cpp
vdrt_vk_shader(sparse_flash_v0 sparse_flash.comp OUTPUT_LOOP_CONTINUE=1)  # sparse_attention.cpp, VDRT_VK_SPARSE_FP32=old
