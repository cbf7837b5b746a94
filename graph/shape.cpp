#include "graph/shape.h"

#include <algorithm>

#include "graph/error.h"

namespace vdrt {

Dim Dim::symbol(std::string name) {
  Dim d;
  d.symbol_ = std::move(name);
  return d;
}

std::string Dim::str() const {
  if (known()) return std::to_string(value_);
  return symbol_.empty() ? "?" : symbol_;
}

Dim operator+(const Dim& a, const Dim& b) {
  if (a.known() && b.known()) return Dim(a.value() + b.value());
  if (a.known() && a.value() == 0) return b;
  if (b.known() && b.value() == 0) return a;
  if (a.unknown() || b.unknown()) return Dim();
  return Dim::symbol(a.str() + "+" + b.str());
}

Dim operator*(const Dim& a, const Dim& b) {
  if (a.known() && b.known()) return Dim(a.value() * b.value());
  if (a.known() && a.value() == 1) return b;
  if (b.known() && b.value() == 1) return a;
  if (a.unknown() || b.unknown()) return Dim();
  auto wrap = [](const Dim& d) { return d.str().find('+') == std::string::npos ? d.str() : "(" + d.str() + ")"; };
  return Dim::symbol(wrap(a) + "*" + wrap(b));
}

Shape::Shape(std::initializer_list<int64_t> dims) : rank_known_(true) {
  for (int64_t d : dims) dims_.emplace_back(d);
}

Shape Shape::from(const std::vector<int64_t>& dims) {
  std::vector<Dim> d(dims.begin(), dims.end());
  return Shape(std::move(d));
}

bool Shape::fully_known() const {
  return rank_known_ && std::all_of(dims_.begin(), dims_.end(), [](const Dim& d) { return d.known(); });
}

std::vector<int64_t> Shape::concrete() const {
  VDRT_CHECK(fully_known(), "shape " + str() + " is not fully known");
  std::vector<int64_t> out;
  for (const Dim& d : dims_) out.push_back(d.value());
  return out;
}

std::optional<int64_t> Shape::numel() const {
  if (!fully_known()) return std::nullopt;
  return vdrt::numel(concrete());
}

std::string Shape::str() const {
  if (!rank_known_) return "[?]";
  std::string s = "[";
  for (size_t i = 0; i < dims_.size(); ++i) s += (i ? ", " : "") + dims_[i].str();
  return s + "]";
}

int64_t numel(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::string dims_str(const std::vector<int64_t>& dims) { return Shape::from(dims).str(); }

int64_t normalize_axis(int64_t axis, int64_t rank) {
  VDRT_CHECK(axis >= -rank && axis < std::max<int64_t>(rank, 1),
             "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  if (!a.rank_known() || !b.rank_known()) return Shape();
  size_t r = std::max(a.rank(), b.rank());
  std::vector<Dim> out(r);
  for (size_t i = 0; i < r; ++i) {
    Dim da = i < r - a.rank() ? Dim(1) : a[i - (r - a.rank())];
    Dim db = i < r - b.rank() ? Dim(1) : b[i - (r - b.rank())];
    if (da.known() && da.value() == 1) out[i] = db;
    else if (db.known() && db.value() == 1) out[i] = da;
    else if (da == db) out[i] = da;
    else if (da.known() && db.known())
      throw Error("shapes " + a.str() + " and " + b.str() + " cannot be broadcast");
    else out[i] = da.known() ? da : db;  // symbolic must equal the concrete one
  }
  return Shape(std::move(out));
}

std::vector<int64_t> broadcast_dims(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  return broadcast_shapes(Shape::from(a), Shape::from(b)).concrete();
}

}  // namespace vdrt
