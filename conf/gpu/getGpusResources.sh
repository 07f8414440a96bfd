#!/usr/bin/env bash
# Spark GPU discovery script: prints the GPUs this worker/executor may use as the JSON Spark expects,
#   {"name": "gpu", "addresses": ["0", "1", ...]}
# Point Spark at it with spark.{worker,executor,driver}.resource.gpu.discoveryScript=<path to this file>.
# Honours CUDA_VISIBLE_DEVICES (comma-separated indices) when set; otherwise lists what nvidia-smi sees.
# KAZU_SPARK_FAKE_GPUS="0,1" makes it print those addresses without nvidia-smi (CPU-only tests).
set -euo pipefail
addresses="${KAZU_SPARK_FAKE_GPUS:-${CUDA_VISIBLE_DEVICES:-}}"
if [[ -z "$addresses" ]]; then
  addresses=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | paste -sd, - || true)
fi
json=$(echo "$addresses" | tr -d ' ' | awk -F, '{for (i = 1; i <= NF; i++) if ($i != "") printf "%s\"%s\"", (n++ ? "," : ""), $i}')
echo "{\"name\": \"gpu\", \"addresses\": [${json}]}"
