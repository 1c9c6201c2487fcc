#!/bin/bash
# Build the runner (static, against this kernel's uapi headers) and the initramfs:
# busybox-static, strace with its shared libraries, vmc-run, the scenarios and /init.
set -euo pipefail
LAB_BUILD=${LAB_BUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-migcheck/lab-build}
HERE=$(cd "$(dirname "$0")" && pwd)
KOBJ=$LAB_BUILD/kobj
SCEN=$LAB_BUILD/scenarios
ROOT=$LAB_BUILD/initramfs
[ -f "$KOBJ/usr/include/linux/vfio.h" ] || { echo "build-initramfs: run build-kernel.sh first" >&2; exit 2; }
[ -d "$SCEN/group" ] || { echo "build-initramfs: no scenarios in $SCEN" >&2; exit 2; }

gcc -static -O2 -Wall -Wextra -Werror -I"$KOBJ/usr/include" -o "$LAB_BUILD/vmc-run" "$HERE/runner/vmc-run.c"

rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,usr/bin,proc,sys,dev,tmp}
cp /bin/busybox "$ROOT/bin/busybox"
cp "$LAB_BUILD/vmc-run" "$ROOT/bin/vmc-run"
cp /usr/bin/strace "$ROOT/usr/bin/strace"
for lib in $(ldd /usr/bin/strace | grep -o '/[^ ]*'); do     # strace is dynamic
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
done
cp -r "$SCEN" "$ROOT/scenarios"
find "$ROOT/scenarios" -name '*.json' -delete                  # the VM needs only the .vmc
install -m 0755 "$HERE/init.sh" "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1 > "$LAB_BUILD/initramfs.cpio.gz")
ls -l "$LAB_BUILD/initramfs.cpio.gz"
