// fuse-gelu on the exporters' spellings of both GELU forms, and near-misses.
#include <gtest/gtest.h>

#include <cmath>

#include "graph_builder.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::GraphBuilder;

void check_fused(GraphBuilder& b, const std::string& op, const std::string& approximate) {
  auto before = b.graph().clone();
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("fuse-gelu", b.graph(), &ctx)) << test::explained(ctx);
  ASSERT_EQ(b.graph().nodes().size(), 1u);
  const Node& n = *b.graph().nodes().front();
  EXPECT_EQ(n.qualified_op(), op);
  EXPECT_EQ(n.attrs().get_string("approximate"), approximate);
  auto inputs = test::random_inputs(*before);
  auto want = test::run_graph(*before, inputs);
  auto got = test::run_graph(b.graph(), inputs);
  for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
}

TEST(FuseGelu, ErfTorchScriptStyle) {  // Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5)
  GraphBuilder b(17);
  Value* x = b.input("x", {4, 6});
  Value* e = b.op("Erf", {b.op("Div", {x, b.scalar(1.4142135f)})});
  b.output(b.op("Mul", {b.op("Mul", {x, b.op("Add", {e, b.scalar(1)})}), b.scalar(0.5f)}));
  check_fused(b, "vdrt.Gelu", "none");
}

TEST(FuseGelu, ErfDynamoStyleAtOpset20) {  // Mul(x, Mul(0.5, Add(Erf(Mul(x, 1/sqrt2)), 1)))
  GraphBuilder b(20);
  Value* x = b.input("x", {4, 6});
  Value* e = b.op("Erf", {b.op("Mul", {b.scalar(0.70710678f), x})});
  b.output(b.op("Mul", {x, b.op("Mul", {b.scalar(0.5f), b.op("Add", {b.scalar(1), e})})}));
  check_fused(b, "Gelu", "none");
}

TEST(FuseGelu, TanhTorchScriptStyle) {  // x^3 as Mul(x, Mul(x, x))
  GraphBuilder b(17);
  Value* x = b.input("x", {4, 6});
  Value* cube = b.op("Mul", {x, b.op("Mul", {x, x})});
  Value* inner = b.op("Add", {x, b.op("Mul", {b.scalar(0.044715f), cube})});
  Value* t = b.op("Tanh", {b.op("Mul", {b.scalar(0.7978845608f), inner})});
  b.output(b.op("Mul", {b.scalar(0.5f), b.op("Mul", {x, b.op("Add", {b.scalar(1), t})})}));
  check_fused(b, "vdrt.Gelu", "tanh");
}

TEST(FuseGelu, TanhDynamoStyle) {  // x^3 as Pow(x, 3), 0.5 grouped with (1 + tanh)
  GraphBuilder b(18);
  Value* x = b.input("x", {4, 6});
  Value* inner = b.op("Add", {x, b.op("Mul", {b.scalar(0.044715f), b.op("Pow", {x, b.scalar(3)})})});
  Value* t = b.op("Tanh", {b.op("Mul", {b.scalar(0.7978845608f), inner})});
  b.output(b.op("Mul", {x, b.op("Mul", {b.scalar(0.5f), b.op("Add", {t, b.scalar(1)})})}));
  check_fused(b, "vdrt.Gelu", "tanh");
}

TEST(FuseGelu, TanhWithFactoredCubic) {  // sqrt(2/pi) * x * (1 + 0.044715 x^2)
  GraphBuilder b(20);
  Value* x = b.input("x", {4, 6});
  Value* poly = b.op("Add", {b.scalar(1), b.op("Mul", {b.op("Mul", {x, x}), b.scalar(0.044715f)})});
  Value* t = b.op("Tanh", {b.op("Mul", {b.op("Mul", {x, b.scalar(0.7978845608f)}), poly})});
  b.output(b.op("Mul", {b.op("Mul", {x, b.scalar(0.5f)}), b.op("Add", {t, b.scalar(1)})}));
  check_fused(b, "Gelu", "tanh");
}

TEST(FuseGelu, NearMissesAreLeftAloneAndExplained) {
  auto erf_gelu = [](GraphBuilder& b, Value* x, Value* x_in_erf, float half, float inv_sqrt2) {
    Value* e = b.op("Erf", {b.op("Mul", {x_in_erf, b.scalar(inv_sqrt2)})});
    return b.op("Mul", {b.op("Mul", {x, b.op("Add", {e, b.scalar(1)})}), b.scalar(half)});
  };
  {  // 0.6 instead of 0.5
    GraphBuilder b(20);
    Value* x = b.input("x", {4});
    b.output(erf_gelu(b, x, x, 0.6f, 0.70710678f));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-gelu", b.graph(), &ctx));
    EXPECT_NE(test::explained(ctx).find("not 0.5"), std::string::npos) << test::explained(ctx);
  }
  {  // erf(x / 2)
    GraphBuilder b(20);
    Value* x = b.input("x", {4});
    b.output(erf_gelu(b, x, x, 0.5f, 0.5f));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-gelu", b.graph(), &ctx));
    EXPECT_NE(test::explained(ctx).find("not x / sqrt(2)"), std::string::npos) << test::explained(ctx);
  }
  {  // x * (1 + erf(z / sqrt2)) / 2 with z != x
    GraphBuilder b(20);
    Value* x = b.input("x", {4});
    Value* z = b.input("z", {4});
    b.output(erf_gelu(b, x, z, 0.5f, 0.70710678f));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-gelu", b.graph(), &ctx));
  }
  {  // the erf is also read elsewhere
    GraphBuilder b(20);
    Value* x = b.input("x", {4});
    Value* y = erf_gelu(b, x, x, 0.5f, 0.70710678f);
    b.output(y);
    Value* add = y->producer()->input(0)->producer()->input(1);
    b.output(add->producer()->input(0));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-gelu", b.graph(), &ctx));
    EXPECT_NE(test::explained(ctx).find("also used outside"), std::string::npos) << test::explained(ctx);
  }
  {  // wrong cubic coefficient in the tanh form
    GraphBuilder b(20);
    Value* x = b.input("x", {4});
    Value* inner = b.op("Add", {x, b.op("Mul", {b.scalar(0.05f), b.op("Pow", {x, b.scalar(3)})})});
    Value* t = b.op("Tanh", {b.op("Mul", {b.scalar(0.7978845608f), inner})});
    b.output(b.op("Mul", {x, b.op("Mul", {b.scalar(0.5f), b.op("Add", {t, b.scalar(1)})})}));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-gelu", b.graph(), &ctx));
    EXPECT_NE(test::explained(ctx).find("tanh's argument"), std::string::npos) << test::explained(ctx);
  }
}

}  // namespace
}  // namespace vdrt
