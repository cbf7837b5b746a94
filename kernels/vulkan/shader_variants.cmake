# Shader variants built with -D defines: vdrt_vk_shader(NAME file.comp DEFINE=VALUE ...).
vdrt_vk_shader(flash_attention_coopmat_d64 flash_attention_coopmat.comp HEAD_DIM=64)  # attention.cpp
vdrt_vk_shader(flash_attention_f16_rows flash_attention_coopmat.comp KV_CONVERT=1)  # attention.cpp
vdrt_vk_shader(sparse_flash_coopmat_d64 sparse_flash_coopmat.comp HEAD_DIM=64)  # sparse_attention.cpp
