// sparse_flash_coopmat for head dim 64 (the GLSL's HEAD_DIM variant).
#define HEAD_DIM 64
#define SPARSE_KERNEL sparse_flash_coopmat_d64
#include "sparse_flash_coopmat.cl"
