"""What this machine has for self-hosted teachers: the GPU driver, torch and its CUDA, vLLM and SGLang.

    python tests/gpu/check_machine.py

Prints one line per component and exits 0 whatever is missing (a CPU machine is a valid answer);
`tests/gpu/run.sh` reads the last line (`vllm: <version>` or `vllm: absent`) to decide what to run next.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def main() -> None:
    smi = shutil.which("nvidia-smi")
    if smi:
        out = subprocess.run([smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=60)
        for line in (out.stdout or out.stderr).strip().splitlines():
            print(f"gpu: {line.strip()}")
    else:
        print("gpu: no nvidia-smi on PATH")
    torch = _version("torch")
    line = f"torch: {torch}"
    if torch != "absent":
        import torch as t

        line += f", cuda {t.version.cuda}, available {t.cuda.is_available()}, devices {t.cuda.device_count()}"
    print(line)
    print(f"transformers: {_version('transformers')}")
    print(f"sglang: {_version('sglang')}")
    print(f"vllm: {_version('vllm')}")


if __name__ == "__main__":
    main()
