#!/usr/bin/env bash
# session 27, call A: (1) s26f.sh: held-digit.patch (f) against HEAD (h) on flat and smooth rows;
# (2) flat rows under every filter, h and f (flat_more.py); (3) s26n.sh: ncu of a flat row's
# top-p at h.
set -u -o pipefail
T0=$SECONDS
timeout 260 bash .exp/s26f.sh > $OUT/s26f.log 2>&1; echo "s26f rc=$? $((SECONDS-T0))s"
ROOT=$PWD; R=/tmp/ab
for v in h f; do t0=$SECONDS; (cd /tmp && ROCSAMPLE_CACHE_DIR=/tmp/rs-$v PYTHONPATH=/tmp/site:$ROOT/.exp/$v timeout 90 python3 $ROOT/.exp/flat_more.py > $R/more_$v.jsonl 2> $R/more_$v.err); echo "more_$v rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt; done
cp .exp/flat_more.py .exp/s27a.sh $R/
tar czf $OUT/ab.tgz -C /tmp ab
t0=$SECONDS; timeout 170 bash .exp/n/s26n.sh > $OUT/s26n.log 2>&1; echo "s26n rc=$? $((SECONDS-t0))s"
tail -8 $OUT/s26f.log; tail -3 $OUT/s26n.log
