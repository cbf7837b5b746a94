#pragma once
// Shapes whose dimensions may be symbolic ("batch", "past+48"). Symbolic
// dims let `vdrt inspect` describe a graph before any input is bound; at run
// time every dim is concrete.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace vdrt {

class Dim {
 public:
  Dim() = default;                                   // unknown
  Dim(int64_t v) : value_(v) {}                      // NOLINT: concrete dims read naturally
  static Dim symbol(std::string name);
  bool known() const { return value_ >= 0; }
  bool is_symbol() const { return value_ < 0 && !symbol_.empty(); }
  bool unknown() const { return value_ < 0 && symbol_.empty(); }
  int64_t value() const { return value_; }
  const std::string& name() const { return symbol_; }
  std::string str() const;
  bool operator==(const Dim& o) const { return value_ == o.value_ && symbol_ == o.symbol_; }
  bool operator!=(const Dim& o) const { return !(*this == o); }

 private:
  int64_t value_ = -1;
  std::string symbol_;
};

// Arithmetic that keeps symbolic expressions readable.
Dim operator+(const Dim& a, const Dim& b);
Dim operator*(const Dim& a, const Dim& b);

class Shape {
 public:
  Shape() = default;  // unknown rank
  Shape(std::vector<Dim> dims) : dims_(std::move(dims)), rank_known_(true) {}  // NOLINT
  Shape(std::initializer_list<int64_t> dims);
  static Shape from(const std::vector<int64_t>& dims);

  bool rank_known() const { return rank_known_; }
  size_t rank() const { return dims_.size(); }
  const Dim& operator[](size_t i) const { return dims_[i]; }
  Dim& operator[](size_t i) { return dims_[i]; }
  const std::vector<Dim>& dims() const { return dims_; }
  bool fully_known() const;
  // Concrete dims; throws if any is not known.
  std::vector<int64_t> concrete() const;
  std::optional<int64_t> numel() const;
  std::string str() const;
  bool operator==(const Shape& o) const { return rank_known_ == o.rank_known_ && dims_ == o.dims_; }

 private:
  std::vector<Dim> dims_;
  bool rank_known_ = false;
};

int64_t numel(const std::vector<int64_t>& dims);
std::string dims_str(const std::vector<int64_t>& dims);
// Normalises a possibly negative axis against `rank`; throws if out of range.
int64_t normalize_axis(int64_t axis, int64_t rank);
// Numpy-style multidirectional broadcasting; throws on incompatible shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b);
std::vector<int64_t> broadcast_dims(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

}  // namespace vdrt
