// Conv with few output channels per group (depthwise and kin), the OpenCL
// twin of kernels/vulkan/conv_direct.comp: one invocation per output element
// sums its Cin/group x kernel window. With one or two outputs per group
// there is no reuse for a tiled GEMM to exploit, and consecutive invocations
// read consecutive pixels, so the plain loop is already coalesced.
// Same geometry as conv.cl (1-D/2-D arrive as 3-D with unit axes).

#ifndef SPEC0
#define SPEC0 1
#endif
#define HAS_BIAS SPEC0

struct conv_direct_params {
  uint cg, mg, group, n;  // channels per group (in, out), groups, output elements
  uint id, ih, iw;
  uint od, oh, ow;
  uint kd, kh, kw;
  uint sd, sh, sw;
  uint dd, dh, dw;
  int pd, ph, pw;
};

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void conv_direct(BUF(float, x), BUF(float, w),
                                                                          BUF(float, bias), BUF(float, y),
                                                                          constant const struct conv_direct_params* p) {
  AT(float, x);
  AT(float, w);
  AT(float, bias);
  AT(float, y);
  const uint i = flat_group() * 256 + (uint)get_local_id(0);
  if (i >= p->n) return;
  const uint O = p->od * p->oh * p->ow, I = p->id * p->ih * p->iw;
  const uint M = p->mg * p->group, C = p->cg * p->group;
  const uint o = i % O, nm = i / O;
  const uint ch = nm % M, img = nm / M;
  const uint g = ch / p->mg;
  const uint ox = o % p->ow, rest = o / p->ow;
  const uint oy = rest % p->oh, oz = rest / p->oh;
  const int z0 = (int)(oz * p->sd) - p->pd, y0 = (int)(oy * p->sh) - p->ph, x0 = (int)(ox * p->sw) - p->pw;
  float acc = HAS_BIAS == 1 ? bias[ch] : 0.0f;
  uint wi = ch * p->cg * p->kd * p->kh * p->kw;
  for (uint c = 0; c < p->cg; ++c) {
    const global float* xc = x + (img * C + g * p->cg + c) * I;
    for (uint kz = 0; kz < p->kd; ++kz) {
      const int iz = z0 + (int)(kz * p->dd);
      const bool zok = (uint)iz < p->id;
      for (uint ky = 0; ky < p->kh; ++ky) {
        const int iy = y0 + (int)(ky * p->dh);
        const bool yok = zok && (uint)iy < p->ih;
        for (uint kx = 0; kx < p->kw; ++kx, ++wi) {
          const int ix = x0 + (int)(kx * p->dw);
          if (yok && (uint)ix < p->iw) acc = fma(w[wi], xc[((uint)iz * p->ih + (uint)iy) * p->iw + (uint)ix], acc);
        }
      }
    }
  }
  y[i] = acc;
}
