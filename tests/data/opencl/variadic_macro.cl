// A kernel source with a variadic macro, which OpenCL C does not allow: the
// build must refuse to embed it (tests/CMakeLists.txt).
#define FIRST_OF(a, ...) (a)
