#!/usr/bin/env bash
# session 22, call A (one call, ~8 min): rise6 and mass-fma A/Bs (next.sh, no ncu), the MLP
# stream-hints A/B (s22b.sh), then both GPU suites of the checkout (HEAD + rise6.patch).
set -u -o pipefail
t0=$SECONDS
SUITES=0 NCU=0 bash .exp/next.sh; echo "next.sh done $((SECONDS-t0))s"
bash .exp/s22b.sh; echo "s22b.sh done $((SECONDS-t0))s"
OUT=$OUT PART=suites WORKERS=4 bash tools/gpu_session.sh; echo "suites done $((SECONDS-t0))s"
cat $OUT/suites-steps.txt
