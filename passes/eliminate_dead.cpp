// eliminate-dead: removes nodes whose outputs nobody reads (neither a node
// nor the graph's outputs) and the constants and values left unused. Fusion
// passes rely on it to clear the subgraphs they replaced.
#include "passes/pass_registry.h"
#include "passes/rewrite.h"

namespace vdrt {
namespace {

class EliminateDead final : public Pass {
 public:
  std::string name() const override { return "eliminate-dead"; }
  std::string description() const override {
    return "Removes nodes whose outputs are unused and not graph outputs, then unused constants and values.";
  }

  bool run(Graph& graph, PassContext& ctx) override {
    size_t values_before = graph.values().size();
    size_t removed = remove_dead_nodes(graph);
    graph.prune_values();
    size_t pruned = values_before - graph.values().size();
    if (removed) ctx.count("nodes removed", static_cast<int64_t>(removed));
    return removed > 0 || pruned > 0;
  }
};

VDRT_REGISTER_PASS(EliminateDead);

}  // namespace
}  // namespace vdrt
