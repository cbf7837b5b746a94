"""vdrt: a compiler and runtime for autoregressive video diffusion models exported to ONNX.

The Python face of vdrt's C++ core, following ONNX Runtime's habits:

- ``InferenceSession(model, device="auto", precision="fp32", pipeline=None, threads=0)``
  runs a model: ``get_inputs()``, ``get_outputs()``, ``run(output_names, feeds)`` with
  NumPy arrays (or any DLPack CPU tensor), ``placement()``, ``get_modelmeta()``.
- ``devices()`` lists the devices of every compiled-in backend (``device=`` strings).
- ``optimize(model_in, model_out, pipeline=None | passes=[...], explain=False, device=None)``
  is ``vdrt opt``: it rewrites a model (for one device with ``device=``, as
  ``vdrt opt --device``) and returns the report.
- ``load(path)`` imports a model for read-only inspection (``Graph``, ``Node``).
- ``VideoPipeline(folder, ...)`` generates video chunk by chunk (``generate``) or into a
  file (``save``), as ``vdrt generate`` does.
- ``load_tensor``, ``save_tensor`` and ``load_test_set`` read and write ONNX TensorProto
  files (test_data_set_N folders) without the onnx package.

Errors are ``vdrt.Error`` (a RuntimeError) with vdrt's message; its ``reason``,
``file``, ``node`` and ``op`` attributes hold the parts.
"""

from ._vdrt import (
    Error,
    FrameIterator,
    Graph,
    InferenceSession,
    ModelMetadata,
    Node,
    NodeArg,
    OutOfMemoryError,
    VideoPipeline,
    backends,
    default_pipeline,
    devices,
    list_passes,
    load,
    load_tensor,
    load_tensor_name,
    load_test_set,
    optimize,
    save_tensor,
    set_log_level,
    unavailable_backends,
)

__version__ = "0.1.0"

__all__ = [
    "Error",
    "FrameIterator",
    "Graph",
    "InferenceSession",
    "ModelMetadata",
    "Node",
    "NodeArg",
    "OutOfMemoryError",
    "VideoPipeline",
    "backends",
    "default_pipeline",
    "devices",
    "list_passes",
    "load",
    "load_tensor",
    "load_tensor_name",
    "load_test_set",
    "optimize",
    "save_tensor",
    "set_log_level",
    "unavailable_backends",
]
