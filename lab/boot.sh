#!/bin/bash
# Boot the lab kernel + initramfs under QEMU (TCG: no KVM needed) and keep both serial
# streams: ttyS0 = console, ttyS1 = result files (split by python -m vfio_migcheck.conformance.serial).
set -euo pipefail
LAB_BUILD=${LAB_BUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-migcheck/lab-build}
RUN=$LAB_BUILD/run
ACCEL=${ACCEL:-tcg,thread=multi}
rm -rf "$RUN"; mkdir -p "$RUN"
start=$(date +%s)
status=0
timeout "${QEMU_TIMEOUT:-1800}" qemu-system-x86_64 \
    -accel "$ACCEL" -cpu max -smp 2 -m 1G -no-reboot -nographic \
    -kernel "$LAB_BUILD/kobj/arch/x86/boot/bzImage" \
    -initrd "$LAB_BUILD/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 loglevel=4 log_buf_len=4M dyndbg=\"module mtty +p\" ${LAB_VARIANTS:+lab.variants=$LAB_VARIANTS}" \
    -serial mon:stdio -serial file:"$RUN/results.serial" \
    < /dev/null > "$RUN/console.log" 2>&1 || status=$?
end=$(date +%s)
echo "boot and run took $((end - start)) s (qemu exit status $status)" | tee "$RUN/run-time.txt"
grep -q '=====ALL DONE=====' "$RUN/results.serial" || { echo "boot: the VM did not finish; see $RUN/console.log" >&2; exit 1; }
