#!/usr/bin/env bash
# Session 39's device call. Trees: h (the checkout, $COMMIT) and ra (h + ra.patch: every top-k
# row of k <= KCAND takes the *_rise entries, whose bound rises in every row; the landing
# candidate of s38d.sh's experiment, tests included). In order:
#   1. the sweep's top-k and top-p settings (sweep.py MODE=topk / topp: 1-512 rows x
#      128256-262144, top-k 20 / 50 / 128, top-k 50 + top-p 0.9, every dtype, tokens hashed),
#      h ra ra h;
#   2. the fit (bench --dtypes --flush-l2, 128 and 512 rows x six vocabularies) of h and ra;
#   3. both GPU suites + memcheck, then racecheck / synccheck / initcheck, on ra.
# Usage: COMMIT=<sha> bash bench/experiments/dtype-intercept/s39a.sh, carrying .whl. LIMIT=<s>
# (default 585): parts that would not fit are skipped, each logged in steps.txt. NEW=rspan
# (prepared in session 39, not run): the tree is h + rspan.patch instead (rows rise where
# k x sub-chunks > 3072 or a block spans >= 32 / 40 sub-chunks), named rspan in the results;
# results under /tmp/s39a-rspan. Session 40: NEW=r24 (rspan landed; 2-byte rows rise from a span of
# 24); MODES (sweep modes, default "topk topp"), SWEEP_S (a sweep's limit, default 20), ROWS /
# VOCABS (sweep.py's), FITSHAPES (the fit's --batch / --vocab); on h: FIGURE=1 (after the warm-up,
# issue 21's figure, bench --dtypes --flush-l2 --rounds 4 --reps 10) and MLP="<bench-mlp
# arguments>" (after the fits; carry .fi/libfi_ref.so too).
set -u -o pipefail
NEW=${NEW:-ra}
T0=$SECONDS; ROOT=$PWD; E=$ROOT/bench/experiments; D=$E/dtype-intercept
R=/tmp/s39a$([ $NEW = ra ] || echo -$NEW)
LIMIT=${LIMIT:-585}; left() { echo $((LIMIT - (SECONDS - T0))); }
rm -rf $R; mkdir -p $R
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; date -u +%FT%TZ; echo "commit: $COMMIT"
  echo "h: the checkout; $NEW: h + $NEW.patch"; } > $R/device.txt
cp $D/s39a.sh $D/$NEW.patch $R/
W=/tmp/$NEW; rm -rf $W; mkdir -p $W; tar cf - --exclude=./.git . | tar xf - -C $W
(cd $W && patch -p1 < $D/$NEW.patch) > $R/patch.txt 2>&1 || { cat $R/patch.txt; exit 1; }
export PYTHONUNBUFFERED=1 ROCSAMPLE_REQUIRE_GPU=1
tree() { [ "$1" = h ] && echo $ROOT || echo /tmp/$NEW; }
cache() { [ "$1" = h ] && echo /tmp/rs-h || echo /tmp/rs-cache; }  # $NEW's: the suites'
pack() { tar czf $OUT/${R#/tmp/}.tgz -C /tmp ${R#/tmp/}; }
go() { local n=$1 v=$2 l=$3; shift 3; local t=$SECONDS
  [ $(left) -lt $((l + 5)) ] && { echo "$n: skipped, $(left)s left" >> $R/steps.txt; return; }
  (cd /tmp && ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) timeout $l \
   python3 -m rocsample "$@" > $R/$n.txt 2>&1)
  echo "$n rc=$? $((SECONDS-t))s" >> $R/steps.txt; pack; }
go warm_h h 150 warmup & go warm_$NEW $NEW 150 warmup & wait
[ -n "${FIGURE:-}" ] && go figure h 60 -v bench --dtypes --flush-l2 --rounds 4 --reps 10 --out $R/figure
sw() { local m=$1 v=$2 t=$SECONDS
  [ $(left) -lt $((SWEEP_S + 5)) ] && { echo "sweep_${m}_$v: skipped" >> $R/steps.txt; return; }
  (cd /tmp && MODE=$m ROCSAMPLE_CACHE_DIR=$(cache $v) PYTHONPATH=/tmp/site:$(tree $v) timeout $SWEEP_S \
   python3 $E/flat-rows/ab-h100/sweep.py >> $R/sweep_${m}_$v.jsonl 2>> $R/sweep_$v.err)
  echo "sweep_${m}_$v rc=$? $((SECONDS-t))s" >> $R/steps.txt; pack; }
SWEEP_S=${SWEEP_S:-20}
for v in h $NEW $NEW h; do for m in ${MODES:-topk topp}; do sw $m $v; done; done
FIT="-v bench --dtypes --flush-l2 --rounds 2 --reps 10 ${FITSHAPES:---batch 128 --batch 512 --vocab 65536 --vocab 98304 --vocab 131072 --vocab 163840 --vocab 196608 --vocab 229376}"
go fit_h h 45 $FIT --out $R/fit_h
go fit_$NEW $NEW 45 $FIT --out $R/fit_$NEW
[ -n "${MLP:-}" ] && go mlp h 150 -v bench-mlp $MLP --out $R/mlp
part() { local p=$1 l; l=$(($(left) - 5)); [ $l -lt $2 ] && { echo "$p: skipped, ${l}s left" >> $R/steps.txt; return; }
  (cd /tmp/$NEW && OUT=$OUT PART=$p WORKERS=4 COMMIT="$COMMIT+$NEW" timeout $l bash tools/gpu_session.sh > /dev/null 2>&1)
  echo "$p rc=$? $((SECONDS-T0))s" >> $R/steps.txt; pack; }
part suites 200
part sanitizers 80
cat $OUT/suites-steps.txt $OUT/sanitizers-steps.txt 2>/dev/null; cat $R/steps.txt; echo "total $((SECONDS-T0))s"
