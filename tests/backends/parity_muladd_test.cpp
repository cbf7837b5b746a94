// vdrt.MulAdd (fuse-modulation's adaLN modulation and gated residual) on
// every GPU backend against the CPU, on broadcasts the exports produce and
// on shapes that are not multiples of any work-group size.
#include "backends/parity.h"

namespace vdrt::test {
namespace {

ParityCase muladd(const std::string& name, std::vector<Dim> da, std::vector<Dim> db, std::vector<Dim> dc, float k) {
  return {name, [=](GraphBuilder& b) {
            Value* a = b.input("a", da);
            Value* s = b.input("b", db);
            Value* c = b.input("c", dc);
            b.output(b.op("MulAdd", {a, s, c}, attrs({{"offset", Attribute(k)}}), "vdrt"));
          }};
}

const std::vector<ParityCase>& cases() {
  static const std::vector<ParityCase> c = {
      muladd("Modulation", {2, 45, 64}, {2, 1, 64}, {2, 1, 64}, 1.0f),
      muladd("GatedResidual", {1, 333, 96}, {1, 1, 96}, {1, 333, 96}, 0.0f),
      muladd("SameShape", {7, 129}, {7, 129}, {7, 129}, 0.5f),
      muladd("ScalarAndColumn", {3, 1, 5, 7}, {1}, {3, 4, 1, 1}, -1.0f),
      // Four outputs a work item (innermost dim a multiple of 4): per-frame
      // modulation (3 collapsed dims), and an operand repeated along the
      // innermost dim next to one running along it.
      muladd("FrameModulationBy4", {1, 3, 21, 20}, {1, 3, 1, 20}, {1, 3, 1, 20}, 1.0f),
      muladd("RowScaleBy4", {6, 1}, {6, 8}, {1, 8}, 0.25f),
  };
  return c;
}

VDRT_PARITY_SUITE(MulAddParity, cases);

}  // namespace
}  // namespace vdrt::test
