#!/usr/bin/env bash
# Prepared in session 26 for the next device time: where a flat row's top-p time goes (ncu
# source counters of topk_topp_sampling_kernel, sample(top_p=0.9) of flat 1 x 128256 and
# 128 x 128256 f32 rows; join with bench/results/2026-12-05-session25/ncu_functions.py).
# Run from the repository root at the commit to profile: COMMIT=... bash <this file>, carry
# [".whl"]; about 2 min.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 PYTHONPATH=/tmp/site:$PWD ROCSAMPLE_CACHE_DIR=/tmp/rs-flat
HERE=$(dirname "$0"); R=/tmp/flat; rm -rf $R; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
cp "$0" $HERE/ncu_flat.py $R/
timeout 200 python3 $HERE/ncu_flat.py > $R/warm.txt 2>&1; echo "warm rc=$?" >> $R/steps.txt
kn=topk_topp_sampling_kernel
t0=$SECONDS
timeout 200 ncu --clock-control none -k regex:"^$kn\$" -c 2 --section WarpStateStats --section SourceCounters --section SpeedOfLight --section LaunchStats -o $R/src_$kn python3 $HERE/ncu_flat.py > $R/ncu_$kn.txt 2>&1; echo "ncu_$kn rc=$? $((SECONDS-t0))s" >> $R/steps.txt
ncu --import $R/src_$kn.ncu-rep --page source --csv --print-source sass > $R/sass_$kn.csv 2> $R/sass_$kn.err
ncu --import $R/src_$kn.ncu-rep --page details > $R/details_$kn.txt 2>&1
[ -s $R/sass_$kn.csv ] && rm -f $R/src_$kn.ncu-rep
cat $R/steps.txt
tar czf $OUT/flat.tgz -C /tmp flat
