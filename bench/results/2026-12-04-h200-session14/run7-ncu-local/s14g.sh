#!/usr/bin/env bash
# session 14, call G (issue 21): where the logit engine's local-memory traffic comes from:
# ncu's SASS listing of logits_sampling_kernel_bf16 and _kernel (float) at 512 x 128256, the
# executed count of every STL/LDL and the function around it (run 6's driver).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1 ROCSAMPLE_CACHE_DIR=/tmp/rs-cache
R=/tmp/rg; mkdir -p $R
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: ${COMMIT:-unknown}"; } > $R/device.txt
t0=$SECONDS
timeout 150 python3 -m rocsample warmup > $R/warmup.txt 2>&1; echo "warmup rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
timeout 200 ncu --clock-control none -k regex:'logits_sampling' --launch-skip 2 -c 2 --section SourceCounters -o $R/lg python3 bench/results/2026-12-04-h200-session14/run6-ncu/ncu_drv.py > $R/ncu_run.txt 2>&1; echo "ncu rc=$? $((SECONDS-t0))s" | tee -a $R/steps.txt
ncu --import $R/lg.ncu-rep --page source --print-source sass --csv > $R/sass.csv 2>&1
python3 - "$R/sass.csv" > $R/local_ops.txt <<'PY'
import csv, sys, re
rows = list(csv.reader(open(sys.argv[1], errors="replace")))
head = None
func = "?"
out = []
for r in rows:
    if head is None and "Source" in r:
        head = r; continue
    if head is None or len(r) != len(head):
        if r and r[0].startswith("Kernel") or (r and "logits_sampling" in " ".join(r)): out.append("== " + " ".join(r)[:120])
        continue
    d = dict(zip(head, r))
    src = d.get("Source", "")
    m = re.match(r"\s*(\w[\w.]*)\s*:?$", src)
    if src.strip().endswith(":") or src.strip().startswith("."): func = src.strip()
    if "STL" in src or "LDL" in src:
        ex = d.get("Instructions Executed", d.get("Warp Instructions Executed", "?"))
        out.append(f"{d.get('Address','?')} {func} | {src.strip()} | executed {ex}")
print(f"columns: {head}")
print("\n".join(out))
PY
gzip -f $R/sass.csv; rm -f $R/lg.ncu-rep
tar czf $OUT/rg.tgz -C /tmp rg; cat $R/steps.txt; grep -c "STL\|LDL" $R/local_ops.txt; head -5 $R/local_ops.txt | cut -c1-300
