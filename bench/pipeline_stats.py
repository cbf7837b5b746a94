"""The driver's compiler statistics of the Vulkan pipelines a vdrt run created (VDRT_VULKAN_PIPELINE_STATS=1:
registers, local memory (spills) and shared memory on NVIDIA), read from vdrt's log, so that a benchmark's figures
come with the occupancy and spills behind them. Used by rollout_bench.py and gpu_denoiser_bench.py."""
from __future__ import annotations

import re

PIPELINE_LINE = re.compile(r"vulkan pipeline (\S+): (.*)$")
HOT_SHADERS = re.compile(r"coopmat|flash|matmul|e4m3")
ENV = {"VDRT_VULKAN_PIPELINE_STATS": "1"}


def parse(text: str) -> dict:
    """"CS: Register Count=217, Local Memory Size=..." -> {name: value}."""
    out = {}
    for part in text.split("; "):
        for item in part.split(": ", 1)[-1].split(", "):
            name, _, value = item.partition("=")
            out[name] = int(value) if value.lstrip("-").isdigit() else value
    return out


def read_line(line: str, pipelines: dict) -> bool:
    """Puts a statistics line of vdrt's log into `pipelines` (key: shader/bindings,specialization constants);
    False for any other line."""
    m = PIPELINE_LINE.search(line)
    if m:
        pipelines[m.group(1)] = parse(m.group(2).strip())
        return True
    if "cannot report pipeline statistics" in line:
        pipelines["unavailable"] = line.strip()
        return True
    return False


def print_hot(runs: list[dict]) -> None:
    """The GEMM and attention pipelines of the runs' "pipelines" (the driver's names and values, as reported)."""
    seen = {}
    for pipelines in runs:
        for key, stats in (pipelines or {}).items():
            if key == "unavailable" or HOT_SHADERS.search(key.split("/")[0]):
                seen.setdefault(key, stats)
    if not seen:
        return
    print("pipelines (VDRT_VULKAN_PIPELINE_STATS; shader/bindings,specialization constants):")
    for key, stats in sorted(seen.items()):
        text = stats if isinstance(stats, str) else ", ".join(f"{k} {v}" for k, v in stats.items() if k != "Binary Size")
        print(f"  {key}: {text}")
