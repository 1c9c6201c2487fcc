#!/bin/bash
# Build the lab kernel: Linux 6.12 (Debian linux-source-6.12) configured from tinyconfig plus
# exactly the options the conformance lab needs (VFIO group + cdev/iommufd paths, the mtty
# sample driver, a serial console, an initramfs, clocks precise enough for strace -T).
# Out-of-tree build in $LAB_BUILD/kobj; the source tree is unpacked once to $LAB_BUILD/src.
set -euo pipefail
LAB_BUILD=${LAB_BUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-migcheck/lab-build}
JOBS=${JOBS:-$(nproc)}
SRC_TAR=/usr/src/linux-source-6.12.tar.xz
KSRC=$LAB_BUILD/src/linux-source-6.12
KOBJ=$LAB_BUILD/kobj
mkdir -p "$LAB_BUILD/src" "$KOBJ"

if [ ! -f "$KSRC/Makefile" ]; then
    [ -f "$SRC_TAR" ] || { echo "build-kernel: $SRC_TAR missing (run lab/install-deps.sh)" >&2; exit 2; }
    echo "== unpacking $SRC_TAR"
    tar -C "$LAB_BUILD/src" -xf "$SRC_TAR"
fi

# Options the lab relies on, grouped by why.
OPTIONS=(
    # boot and console: 64-bit, serial console on ttyS0 and ttyS1, initramfs, ELF + scripts
    64BIT PRINTK TTY SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP BINFMT_ELF BINFMT_SCRIPT
    # the userland busybox and strace need
    DEVTMPFS DEVTMPFS_MOUNT PROC_FS SYSFS TMPFS SHMEM FUTEX EPOLL EVENTFD SIGNALFD TIMERFD
    MULTIUSER POSIX_TIMERS CROSS_MEMORY_ATTACH UNIX98_PTYS FILE_LOCKING
    # fine-grained clocks (else strace timestamps move in jiffies) and two CPUs
    HIGH_RES_TIMERS SMP ACPI HPET_TIMER X86_MPPARSE
    # VFIO: legacy group/container path and iommufd + device cdev path, mdev bus
    VFIO VFIO_GROUP VFIO_CONTAINER VFIO_IOMMU_TYPE1 VFIO_MDEV IOMMU_SUPPORT IOMMUFD VFIO_DEVICE_CDEV
    # the migration-capable sample driver (flags STOP_COPY|P2P|PRE_COPY)
    SAMPLES SAMPLE_VFIO_MDEV_MTTY
    # driver debug messages (dyndbg) and emergency reboot
    DEBUG_FS DYNAMIC_DEBUG MAGIC_SYSRQ
    # the eBPF capture (bpftrace on syscall tracepoints): BPF with JIT, perf events, the
    # syscall tracepoints of ftrace, kallsyms for bpftrace's symbol lookups (docs/capture-guide.md)
    BPF BPF_SYSCALL BPF_JIT BPF_EVENTS PERF_EVENTS FTRACE FTRACE_SYSCALLS TRACING EVENT_TRACING
    KPROBES KPROBE_EVENTS UPROBES UPROBE_EVENTS KALLSYMS KALLSYMS_ALL
)

make -s -C "$KSRC" O="$KOBJ" ARCH=x86_64 tinyconfig
args=()
for o in "${OPTIONS[@]}"; do args+=(-e "$o"); done
"$KSRC/scripts/config" --file "$KOBJ/.config" "${args[@]}"
make -s -C "$KSRC" O="$KOBJ" ARCH=x86_64 olddefconfig

missing=0
for o in "${OPTIONS[@]}"; do
    grep -q "^CONFIG_$o=y" "$KOBJ/.config" || { echo "build-kernel: CONFIG_$o did not stick" >&2; missing=1; }
done
[ $missing = 0 ] || exit 1

start=$(date +%s)
make -s -C "$KSRC" O="$KOBJ" ARCH=x86_64 -j"$JOBS" bzImage
# sanitised uapi headers for the runner (linux/vfio.h, linux/iommufd.h of this very kernel)
make -s -C "$KSRC" O="$KOBJ" ARCH=x86_64 headers
end=$(date +%s)
echo "kernel build took $((end - start)) s" | tee "$LAB_BUILD/kernel-build-time.txt"
ls -l "$KOBJ/arch/x86/boot/bzImage"
