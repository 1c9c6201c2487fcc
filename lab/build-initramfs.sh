#!/bin/bash
# Build the runner (static, against this kernel's uapi headers) and the initramfs:
# busybox-static, strace and bpftrace with their shared libraries, the kernel's sanitised uapi
# headers (bpftrace's clang includes linux/types.h), the package's vfio-mig.bt and the exact
# bpftrace command line 'vfio-migcheck capture' builds, vmc-run, the scenarios and /init.
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
REPO=$(cd "$HERE/.." && pwd)
for tool in /usr/bin/strace /usr/bin/bpftrace; do
    cp "$tool" "$ROOT$tool"
    for lib in $(ldd "$tool" | grep -o '/[^ ]*'); do          # dynamic: libraries + loader
        mkdir -p "$ROOT$(dirname "$lib")"
        cp -L "$lib" "$ROOT$lib"
    done
done
mkdir -p "$ROOT/usr/include" "$ROOT/usr/share/vfio-migcheck"
cp -r "$KOBJ/usr/include/." "$ROOT/usr/include/"
cp "$REPO/vfio_migcheck/capture/vfio-mig.bt" "$ROOT/usr/share/vfio-migcheck/vfio-mig.bt"
(cd "$REPO" && ${PYTHON:-python3} -m vfio_migcheck.capture.commands \
    /usr/share/vfio-migcheck/vfio-mig.bt) > "$ROOT/capture-command"
cp -r "$SCEN" "$ROOT/scenarios"
find "$ROOT/scenarios" -name '*.json' -delete                  # the VM needs only the .vmc
install -m 0755 "$HERE/init.sh" "$ROOT/init"
install -m 0755 "$HERE/run-variant.sh" "$ROOT/bin/run-variant"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1 > "$LAB_BUILD/initramfs.cpio.gz")
ls -l "$LAB_BUILD/initramfs.cpio.gz"
