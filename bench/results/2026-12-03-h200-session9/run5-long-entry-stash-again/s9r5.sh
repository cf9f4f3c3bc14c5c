#!/usr/bin/env bash
# session 9, second loan: the fused add's long-row entry with its row kept in shared memory (working
# tree) against HEAD's kernels (.exp/kernels_old: the general entry), A/B/A/B in separate
# processes; the MLP GPU tests on cuda and on hip over the hipshim; memcheck of
# tools/sanitize_kernels.py. Small outputs only.
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/s9r5; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
chmod -R go-w .exp/kernels_old
pack() { tar czf $OUT/s9r5.tgz -C /tmp s9r5; }
make -C tools/hipshim PYTHON=python3 > $R/hipshim_build.txt 2>&1 || echo "hipshim build failed"
T=tests/test_gpu_mlp.py
( timeout 200 env ROCSAMPLE_REQUIRE_GPU=1 python3 -m pytest -m gpu -ra -q -p no:cacheprovider $T > $R/test_cuda.txt 2>&1; echo "cuda rc=$? $(tail -1 $R/test_cuda.txt)" ) &
( timeout 200 env ROCM_PATH=$PWD/tools/hipshim/build ROCSAMPLE_BACKEND=hip ROCSAMPLE_REQUIRE_GPU=1 python3 -m pytest -m gpu -ra -q -p no:cacheprovider $T > $R/test_hip.txt 2>&1; echo "hip rc=$? $(tail -1 $R/test_hip.txt)" ) &
( ROCSAMPLE_CACHE_DIR=/tmp/rs-cache-old ROCSAMPLE_KERNEL_DIR=$PWD/.exp/kernels_old timeout 100 python3 -m rocsample warmup > $R/warm_old.txt 2>&1; echo "warm old rc=$?" ) &
wait; pack
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 python3 tools/sanitize_kernels.py > $R/memcheck.txt 2>&1; echo "memcheck rc=$? $(grep -E 'mismatches|ERROR SUMMARY' $R/memcheck.txt | tr '\n' ' ')"; pack
SH="--rows 1024 --rows 8192 --hidden 8192 --hidden 14336 --hidden 16384 --reps 30"
for p in 1 2; do
  ROCSAMPLE_CACHE_DIR=/tmp/rs-cache-old ROCSAMPLE_KERNEL_DIR=$PWD/.exp/kernels_old timeout 60 python3 -m rocsample bench-mlp $SH --label old$p --out $R > $R/bench_old$p.txt 2>&1; echo "old$p rc=$?"
  timeout 60 python3 -m rocsample bench-mlp $SH --label new$p --out $R > $R/bench_new$p.txt 2>&1; echo "new$p rc=$?"
  pack
done

rm -f $R/bench_mlp_old*.png $R/bench_mlp_new*.png; pack
