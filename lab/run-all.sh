#!/bin/bash
# One command for the whole conformance lab, from nothing to a compared corpus:
#   packages -> kernel -> scenarios + predictions (from the model) -> runner + initramfs
#   -> boot under QEMU TCG (runs every scenario, plain, under each strace option set and
#      under the eBPF capture; measures the capture's overhead)
#   -> split the result stream -> compare with the model -> refresh tests/corpus/lab-mtty-6.12
#      (the corpus keeps the files the code reads gzip-compressed, reproducibly: corpus.py)
# Build products live in $LAB_BUILD (default ~/.cache/vfio-migcheck/lab-build, or under
# $XDG_CACHE_HOME), outside the repository.
# Options (environment): LAB_BUILD, SKIP_KERNEL=1 (reuse a built kernel), NO_CORPUS=1 (leave
# the committed corpus alone), ACCEL=kvm (instead of TCG), JOBS.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
export LAB_BUILD=${LAB_BUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-migcheck/lab-build}
RESULTS=$LAB_BUILD/results
CORPUS=$REPO/tests/corpus/lab-mtty-6.12
PY=${PYTHON:-python3}
mkdir -p "$LAB_BUILD"
t0=$(date +%s)

"$HERE/install-deps.sh"
if [ "${SKIP_KERNEL:-0}" = 1 ] && [ -f "$LAB_BUILD/kobj/arch/x86/boot/bzImage" ]; then
    echo "== reusing the kernel in $LAB_BUILD/kobj"
else
    "$HERE/build-kernel.sh"
fi
t1=$(date +%s)

echo "== scenarios and predictions from the model"
rm -rf "$LAB_BUILD/scenarios"
(cd "$REPO" && $PY -m vfio_migcheck.conformance.scenarios "$LAB_BUILD/scenarios")
"$HERE/build-initramfs.sh"

echo "== booting the lab VM"
"$HERE/boot.sh"
t2=$(date +%s)

rm -rf "$RESULTS"
(cd "$REPO" && $PY -m vfio_migcheck.conformance.serial "$LAB_BUILD/run/results.serial" "$RESULTS")
(cd "$REPO" && $PY -m vfio_migcheck.conformance.split_capture "$RESULTS")   # eBPF: per scenario
cp -r "$LAB_BUILD/scenarios" "$RESULTS/scenarios"
{
    echo "kernel build: $((t1 - t0)) s (including package check)"
    cat "$LAB_BUILD/run/run-time.txt"
} > "$RESULTS/timing.txt"

if [ "${NO_CORPUS:-0}" != 1 ]; then
    echo "== refreshing the committed corpus $CORPUS"
    (cd "$REPO" && $PY -m vfio_migcheck.conformance.corpus "$RESULTS" "$CORPUS")
fi

echo "== comparison"
status=0
(cd "$REPO" && $PY -m vfio_migcheck conformance "$RESULTS" \
    --markdown "$RESULTS/CONFORMANCE.md" --json "$RESULTS/conformance.json") || status=$?
[ "${NO_CORPUS:-0}" = 1 ] || cp "$RESULTS/CONFORMANCE.md" "$CORPUS/CONFORMANCE.md"
echo "== done in $(( $(date +%s) - t0 )) s; report: $RESULTS/CONFORMANCE.md"
exit $status
