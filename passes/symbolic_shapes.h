#pragma once
// Symbolic reasoning about shapes that shape inference leaves partly
// unknown: the contents of shape tensors (Shape -> Slice -> Concat -> Reshape
// chains that exporters emit for every view()) and the dims of values, with
// unknown dims named after where they come from ("?cat[1]") so that two
// reads of the same dim compare equal and different ones do not.
//
// fold-constants uses it to turn shape arithmetic over static dims into
// constants; fuse-attention uses it to prove that a Reshape/Transpose/Reshape
// sandwich is a plain transpose of the last two axes.
#include <optional>
#include <vector>

#include "graph/graph.h"
#include "graph/shape.h"

namespace vdrt {

using Dims = std::vector<Dim>;

// Dims of `v`: its inferred shape, unknown dims replaced by placeholder
// symbols, refined through Transpose/Reshape producers. nullopt if the rank is unknown.
std::optional<Dims> symbolic_dims(const Value* v);

// Contents of an integer tensor of rank <= 1 as dims (a scalar gives one
// entry). Understands constants, Shape (with start/end), Gather, Slice,
// Concat, Unsqueeze, Squeeze, Cast, Identity. nullopt when not computable.
// A literal -1 (Reshape's "infer this dim") is the marker infer_dim(),
// since Dim(-1) means unknown.
std::optional<Dims> shape_tensor_dims(const Value* v);
Dim infer_dim();
bool is_infer_dim(const Dim& d);
// Concrete values of shape-tensor entries (infer_dim() gives -1); nullopt if any is symbolic.
std::optional<std::vector<int64_t>> concrete_values(const Dims& d);

// The result of Reshape(input, target) where `target` may hold 0 (copy
// the input's dim unless allowzero) and one infer_dim() (inferred). nullopt when the
// -1 cannot be resolved symbolically.
std::optional<Dims> reshape_dims(const Dims& input, const Dims& target, bool allowzero);

// Product of dims in a canonical form, so that d0*d1 built two ways compares equal.
Dim product_dim(const Dims& dims);
// Equality that never calls two unknown dims equal.
bool same_dim(const Dim& a, const Dim& b);
bool same_dims(const Dims& a, const Dims& b);
bool all_known(const Dims& d);

}  // namespace vdrt
