#!/usr/bin/env bash
# session 23, call A (one call, ~9 min): the rise modules' A/B against HEAD (next.sh: HEAD's
# kernels as v0, the checkout's as v1, topk_sweep.py v0 v1 v0 v1), then both GPU suites and
# memcheck of the checkout (whose sanitizer driver now runs every rise entry).
set -u -o pipefail
t0=$SECONDS
V1="checkout with kernels/*_rise.hip (rise modules)" SUITES=0 NCU=0 bash .exp/next.sh; echo "next.sh done $((SECONDS-t0))s"
SAN_S=${SAN_S:-200} OUT=$OUT PART=suites WORKERS=4 bash tools/gpu_session.sh; echo "suites done $((SECONDS-t0))s"
cat $OUT/suites-steps.txt
