#!/usr/bin/env bash
# The GPU checks, in one go, on a machine with an accelerator (no package registry needed):
#   bash tests/gpu/run.sh [WORK_DIR]
# 1. what the machine has (driver, torch, vllm, sglang);
# 2. with vllm: a tiny model built from a config, served by the factory itself (`teacher.serve`, one replica
#    on one GPU) for the demo pipeline end to end;
# 3. the factory's tokens/s against `vllm bench serve` on one server (tests/gpu/bench_vllm.py).
set -uo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-$(mktemp -d)}
PY=${PYTHON:-python}
mkdir -p "$WORK"
echo "== machine"
$PY tests/gpu/check_machine.py | tee "$WORK/machine.txt"
if grep -q "^vllm: absent" "$WORK/machine.txt"; then
  echo "no vllm here: the serving checks need it (pip install vllm, on a machine with a registry)"
  exit 0
fi
echo "== tiny model"
$PY tests/gpu/tiny_model.py "$WORK/tiny" || exit 1
echo "== the demo with teacher.serve (vllm, 1 replica, tensor_parallel 1)"
$PY - "$WORK" <<'PYEOF' || exit 1
import sys
from pathlib import Path
import yaml
sys.path.insert(0, "tests")
from support.cli import pipeline_copy
work = Path(sys.argv[1])
path = pipeline_copy(work, simulated=None, model="tiny", n=2, sampling={"max_tokens": 256})
cfg = yaml.safe_load(path.read_text())
cfg["teacher"]["serve"] = {"model": str(work / "tiny"), "engine": "vllm", "tensor_parallel": 1, "replicas": 1,
                           "args": ["--max-model-len", "4096"]}
cfg["teacher"]["price"] = {"gpu_hour": 3.0}
path.write_text(yaml.safe_dump(cfg))
print(path)
PYEOF
time factory run "$WORK/pipeline.yaml" --out "$WORK/serve-run" --limit 40 2>&1 | tail -25
factory status "$WORK/serve-run" | tail -30
echo "== the factory against vllm bench serve"
$PY tests/gpu/bench_vllm.py "$WORK/tiny" --requests 800 --concurrency 64 --max-tokens 512
