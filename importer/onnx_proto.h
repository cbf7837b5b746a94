#pragma once
// The one place that pulls in ONNX's generated protobuf classes. Internal to
// importer/: nothing outside this folder may include it, so that graph/ and
// the layers above never see protobuf types.
#include <onnx/onnx_pb.h>
