# Shader variants built with -D defines: vdrt_vk_shader(NAME file.comp DEFINE=VALUE ...).
vdrt_vk_shader(flash_attention_coopmat_d64 flash_attention_coopmat.comp HEAD_DIM=64)  # attention.cpp
