#!/bin/bash
# Debian packages the lab needs: the 6.12 kernel source, a compiler and kernel build tools,
# QEMU (TCG), a static busybox for the initramfs, strace and bpftrace to trace the runner.
set -euo pipefail
PKGS=(linux-source-6.12 qemu-system-x86 busybox-static build-essential flex bison bc
      libelf-dev libssl-dev cpio strace bpftrace)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
    echo "== all lab packages are installed"
fi
