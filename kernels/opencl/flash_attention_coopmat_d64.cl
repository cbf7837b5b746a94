// flash_attention_coopmat for head dim 64 (the GLSL's HEAD_DIM variant).
#define HEAD_DIM 64
#define FLASH_KERNEL flash_attention_coopmat_d64
#include "flash_attention_coopmat.cl"
