#!/usr/bin/env bash
# The GPU check on a GPU machine, in one command (bench/gpu_check.py's docstring says how DIR is
# prepared, here, and carried there):
#
#     bench/gpu_check.sh DIR [RESULTS [RUN OPTIONS...]]
#
# runs `python3 bench/gpu_check.py run DIR --device cuda` within a 5-minute budget (`timeout`;
# past 4 minutes the items left are checked but not timed), prints the tables with the summary
# last, and with RESULTS writes RESULTS/gpu_check.log and RESULTS/gpu_check.json. Exits 0 when
# every check passed, 1 when one failed (or DIR cannot be used), 124 when it ran out of time.
# PYTHON picks the interpreter (default python3); GPU_CHECK_DEVICE=opencl runs the same flow on an
# OpenCL device (a DIR prepared with --target cuda-on-opencl), as the tests do.
set -uo pipefail

dir=${1:?usage: bench/gpu_check.sh DIR [RESULTS [RUN OPTIONS...]]}
results=${2:-}
shift $(( $# < 2 ? $# : 2 ))
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=(run "$dir" --device "${GPU_CHECK_DEVICE:-cuda}" --budget 240)
export PYTHONUNBUFFERED=1

if [ -n "$results" ]; then
    mkdir -p "$results" || exit 1
    timeout --kill-after=10 300 "${PYTHON:-python3}" "$here/bench/gpu_check.py" "${args[@]}" \
        --json "$results/gpu_check.json" "$@" 2>&1 | tee "$results/gpu_check.log"
    status=${PIPESTATUS[0]}
else
    timeout --kill-after=10 300 "${PYTHON:-python3}" "$here/bench/gpu_check.py" "${args[@]}" "$@"
    status=$?
fi
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "gpu_check: FAIL: the run outlasted its 5 minutes" >&2
fi
exit "$status"
