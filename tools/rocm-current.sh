#!/usr/bin/env bash
# A current ROCm (Debian unstable: HIP 6.4+, hipcc and comgr 7.0) in an isolated root under
# build/, then every kernel module compiled for the AMD GPUs users run and checked.
#
# Usage (as root; what `make amd-check` runs):
#   tools/rocm-current.sh [--root DIR] [--out DIR] [--archs "gfx942:sramecc+:xnack- ..."]
#                         [--toolchain-only] [--results bench/results/DATE-amd-targets]
#
# Steps, each skipped when its stamp in ROOT/.rocsample/ is present (a second run reuses the
# root and only recompiles):
#   1. debootstrap --variant=minbase sid ROOT <mirror>. The mirror is read at run time from
#      the host's apt sources (never written down here), so the host's own mirror or proxy is
#      used. About 25 s and 300 MB.
#   2. apt-get install hipcc libamdhip64-dev python3.13-venv inside ROOT (chroot). The mirror's
#      unstable Release file can be older than its Valid-Until, hence the apt option below.
#      With step 1: about 1.3 GB and one to two minutes (bench/results/*-amd-targets/ has the
#      measured figures).
#   3. A venv in ROOT/opt/rocsample-venv with hip-python matching the HIP there (6.4.x) and
#      numpy, platformdirs; and ROOT/opt/rocsample-rocm/lib/{libamdhip64,libhiprtc}.so links,
#      used as ROCM_PATH (rocsample's rocm_libs knows Debian 12's .so.5 layout only).
#   4. Unless --toolchain-only: the worktree is bind-mounted read-only at ROOT/src and OUT
#      read-write at ROOT/out; inside the root, `python -m rocsample compile --arch ...` (the
#      hiprtc path) and `hipcc --genco` (same -D options, from Toolchain.options) build every
#      module for every target, and tools/amd_targets.py validates every code object and
#      writes the resource table (OUT/resources.md, OUT/resources.json); --results copies
#      the table, the logs and the toolchain versions to a directory (bench/results/...).
#
# The host system is not touched: nothing is installed or configured outside ROOT, and the
# mounts made here are undone on exit (also on failure or Ctrl-C).
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$SRC/build/rocm-current/root"
OUT="$SRC/build/amd-check"
ARCHS="gfx942:sramecc+:xnack- gfx942 gfx950 gfx1100 gfx1201"
TOOLCHAIN_ONLY=0
RESULTS=""
# hip-python's version tracks HIP's: 6.4.x matches Debian unstable's libamdhip64-6 (6.4.3).
# Its wheels stop at CPython 3.13 while sid's python3 is newer, so the venv uses python3.13.
HIP_PYTHON="hip-python==6.4.4.555.40"
PYTHON=python3.13
PACKAGES="hipcc libamdhip64-dev $PYTHON $PYTHON-venv ca-certificates make"
APT_OPTS=(-o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false -o Dpkg::Use-Pty=0)

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --archs) ARCHS="$2"; shift 2 ;;
    --toolchain-only) TOOLCHAIN_ONLY=1; shift ;;
    --results) RESULTS="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "rocm-current: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" != 0 ]; then
  echo "rocm-current: needs root (debootstrap, chroot and bind mounts); run: sudo make amd-check" >&2
  exit 2
fi
if ! command -v debootstrap >/dev/null; then
  echo "rocm-current: debootstrap is missing; install it with: apt-get install debootstrap" >&2
  exit 2
fi

STAMPS="$ROOT/.rocsample"
LOG_T0=$(date +%s)
say() { printf '[%4ds] %s\n' "$(( $(date +%s) - LOG_T0 ))" "$*"; }

# The Debian archive the host's apt uses: the first non-security URI of a deb822 .sources
# file, else of a one-line sources.list entry.
host_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f" | grep -v -- '-security' | head -n1)
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f" \
          | grep -v -- '-security' | head -n1)
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  echo "rocm-current: no Debian mirror found in /etc/apt/sources.list*" >&2
  return 1
}

MOUNTS=()
cleanup() {
  local i
  for (( i=${#MOUNTS[@]}-1; i>=0; i-- )); do umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" || true; done
  MOUNTS=()
}
trap cleanup EXIT INT TERM
bind() {  # bind SRC DST [ro]
  mkdir -p "$2"
  mountpoint -q "$2" && return 0
  mount --bind "$1" "$2"
  MOUNTS+=("$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$2"; fi
}
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
              HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# ---- 1. the base system
if [ ! -f "$STAMPS/debootstrap" ]; then
  MIRROR=$(host_mirror)
  say "debootstrap --variant=minbase sid into $ROOT (mirror from the host's apt sources)"
  rm -rf "$ROOT"
  mkdir -p "$(dirname "$ROOT")"
  t=$(date +%s)
  debootstrap --variant=minbase sid "$ROOT" "$MIRROR" > "$(dirname "$ROOT")/debootstrap.log" 2>&1 \
    || { tail -n 20 "$(dirname "$ROOT")/debootstrap.log" >&2; exit 1; }
  mkdir -p "$STAMPS"
  echo "$(( $(date +%s) - t ))" > "$STAMPS/debootstrap"
  say "debootstrap done in $(cat "$STAMPS/debootstrap") s"
else
  say "reusing $ROOT (debootstrap took $(cat "$STAMPS/debootstrap") s)"
fi

cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
bind /proc "$ROOT/proc"
# Read-only: were this script killed before its clean-up, an rm -rf of build/ must not be
# able to delete the host's device nodes through the mount (device I/O still works).
bind /dev "$ROOT/dev" ro

# ---- 2. the ROCm packages
if [ ! -f "$STAMPS/packages" ] || [ "$(head -n1 "$STAMPS/packages")" != "$PACKAGES" ]; then
  say "apt-get install $PACKAGES (inside the root)"
  t=$(date +%s)
  in_root apt-get "${APT_OPTS[@]}" update -qq
  in_root apt-get "${APT_OPTS[@]}" install -y -qq $PACKAGES > "$STAMPS/apt.log" 2>&1 \
    || { tail -n 30 "$STAMPS/apt.log" >&2; exit 1; }
  printf '%s\n%s\n' "$PACKAGES" "$(( $(date +%s) - t ))" > "$STAMPS/packages"
  say "packages installed in $(sed -n 2p "$STAMPS/packages") s"
fi

# ---- 3. hip-python, and a ROCM_PATH with the library names hip-python looks for
LIBDIR=/usr/lib/x86_64-linux-gnu
if [ ! -f "$STAMPS/venv" ]; then
  say "venv with $HIP_PYTHON (inside the root)"
  t=$(date +%s)
  in_root "$PYTHON" -m venv --clear /opt/rocsample-venv
  # The host's CA bundle, so that pip inside the root trusts what the host's pip trusts (a
  # TLS-inspecting proxy included); only read on the host, copied into the root.
  cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/opt/rocsample-host-ca.crt"
  in_root /opt/rocsample-venv/bin/pip install -q --disable-pip-version-check \
    --cert /opt/rocsample-host-ca.crt \
    "$HIP_PYTHON" numpy platformdirs > "$STAMPS/pip.log" 2>&1 \
    || { tail -n 30 "$STAMPS/pip.log" >&2; exit 1; }
  echo "$(( $(date +%s) - t ))" > "$STAMPS/venv"
fi
hip=$(cd "$ROOT$LIBDIR" && ls libamdhip64.so.[0-9]* 2>/dev/null | sort -V | tail -n1)
rtc=$(cd "$ROOT$LIBDIR" && ls libhiprtc.so.[0-9]* 2>/dev/null | sort -V | tail -n1)
[ -n "$hip" ] || { echo "rocm-current: no libamdhip64.so.N in $ROOT$LIBDIR" >&2; exit 1; }
mkdir -p "$ROOT/opt/rocsample-rocm/lib"
ln -sfn "$LIBDIR/$hip" "$ROOT/opt/rocsample-rocm/lib/libamdhip64.so"
# ROCm 6 ships hiprtc as its own library; ROCm 5 kept it inside libamdhip64.
ln -sfn "$LIBDIR/${rtc:-$hip}" "$ROOT/opt/rocsample-rocm/lib/libhiprtc.so"

du_root=$(du -sm --exclude=proc --exclude=dev --exclude=src --exclude=out "$ROOT" | cut -f1)
say "root: ${du_root} MB; debootstrap $(cat "$STAMPS/debootstrap") s, packages $(sed -n 2p "$STAMPS/packages") s, venv $(cat "$STAMPS/venv") s"
if [ "$TOOLCHAIN_ONLY" = 1 ]; then exit 0; fi

# ---- 4. compile every module for every target, both ways, and check the results
mkdir -p "$OUT"
bind "$SRC" "$ROOT/src" ro
bind "$OUT" "$ROOT/out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "root size MB: $du_root"
  echo "debootstrap s: $(cat "$STAMPS/debootstrap")"
  echo "packages s: $(sed -n 2p "$STAMPS/packages")"
  echo "venv s: $(cat "$STAMPS/venv")"
  echo "debian: $(cat "$ROOT/etc/debian_version")"
  in_root dpkg-query -W -f='package: ${Package} ${Version}\n' hipcc libamdhip64-6 libamd-comgr3 \
    libamdhip64-dev rocm-device-libs-21 rocm-device-libs-20 rocm-device-libs-19 llvm-21 llvm-20 \
    llvm-19 clang-21 clang-20 clang-19 "$PYTHON" 2>/dev/null || true
  in_root /opt/rocsample-venv/bin/pip list --disable-pip-version-check 2>/dev/null \
    | awk '/^(hip-python|numpy) / {print "pip: " $1 " " $2}'
  in_root hipcc --version 2>&1 | sed 's/^/hipcc: /' | head -n 6
} > "$OUT/toolchain.txt"
say "toolchain: $(grep -m1 '^package: hipcc' "$OUT/toolchain.txt" || echo '?')"

PYENV=(PYTHONPATH=/src PYTHONDONTWRITEBYTECODE=1 ROCM_PATH=/opt/rocsample-rocm
       ROCSAMPLE_CACHE_DIR=/tmp/rocsample-cache HIP_PLATFORM=amd)
PY=/opt/rocsample-venv/bin/python
rm -rf "$OUT/hiprtc" "$OUT/hipcc"
status=0
# rocsample's own hiprtc path, as a user runs it: `make hsaco` (python -m rocsample compile,
# one subprocess a target, one offload bundle a module). -o setup: the root's venv is the
# environment here, tools/setup.sh would install Debian 12's ROCm 5.2 packages.
say "hiprtc: make hsaco ARCHS=\"$ARCHS\" (inside the root)"
t=$(date +%s)
in_root /usr/bin/env "${PYENV[@]}" make --no-print-directory -C /src -o setup hsaco \
  PY="$PY" ARCHS="$ARCHS" OUT=/out/hiprtc 2>&1 | tee "$OUT/hiprtc.log" || status=1
echo "hiprtc compile s: $(( $(date +%s) - t ))" >> "$OUT/toolchain.txt"

say "hipcc --genco, the same -D options"
t=$(date +%s)
# Without ROCM_PATH: hipcc would look for its clang under that link directory.
in_root /usr/bin/env PYTHONPATH=/src PYTHONDONTWRITEBYTECODE=1 HIP_PLATFORM=amd \
  "$PY" /src/tools/amd_targets.py hipcc --archs "$ARCHS" \
  --out /out/hipcc 2>&1 | tee "$OUT/hipcc.log" || status=1
echo "hipcc compile s: $(( $(date +%s) - t ))" >> "$OUT/toolchain.txt"

say "validate (python -m rocsample inspect --resources) and tabulate"
(cd "$OUT" && ls hiprtc/*.hsaco hipcc/*.hsaco) | sed 's|^|/out/|' \
  | xargs chroot "$ROOT" /usr/bin/env -i "${PYENV[@]}" "$PY" -m rocsample inspect --resources \
  > "$OUT/inspect.txt" || status=1
in_root /usr/bin/env "${PYENV[@]}" "$PY" /src/tools/amd_targets.py check --archs "$ARCHS" \
  --out /out /out/hiprtc /out/hipcc 2>&1 | tee "$OUT/check.log" || status=1
if [ -n "$RESULTS" ]; then
  mkdir -p "$RESULTS"
  cp "$OUT"/{resources.md,resources.json,toolchain.txt,hiprtc.log,hipcc.log,inspect.txt,check.log} "$RESULTS"/
  say "results copied to $RESULTS"
fi
say "done ($( [ $status = 0 ] && echo OK || echo PROBLEMS )): $OUT/resources.md"
exit $status
