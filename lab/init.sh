#!/bin/busybox sh
# PID 1 of the lab VM. Runs every scenario under the vmc-run runner, untraced and under each
# strace option set, and prints each result file to the second serial port (ttyS1) between
#   =====BEGIN <relative path>=====  and  =====END <relative path>=====
# lines; the host splits that stream back into files (python -m vfio_migcheck.conformance.serial).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
OUT=/dev/ttyS1
stty -F $OUT raw -echo 2>/dev/null

emit() { # name file
	{ echo "=====BEGIN $1====="; cat "$2"; echo "=====END $1====="; } > $OUT
}

{
	echo "kernel: $(uname -r) $(uname -v)"
	echo "cmdline: $(cat /proc/cmdline)"
	echo "cpus: $(grep -c ^processor /proc/cpuinfo)"
	echo "strace: $(strace -V | head -n 1)"
	echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	echo "mtty-2 available_instances: $(cat /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/available_instances)"
} > /tmp/env.txt 2>&1
emit env.txt /tmp/env.txt

# tag | api | strace options ("-" = no strace). -ff -o writes one file per pid (handled below).
VARIANTS="
plain|group|-
cdev_plain|cdev|-
f_y_tt_T|group|-f -y -tt -T
f_Xverbose_ttt|group|-f -X verbose -ttt
ff_o|group|-ff -o
yy_r|cdev|-yy -r
cdev_f_y_tt_T|cdev|-f -y -tt -T
"
: > /tmp/status.txt
echo "$VARIANTS" | while IFS='|' read tag api opts; do
	[ -n "$tag" ] || continue
	for scen in /scenarios/$api/*.vmc; do
		name=$(basename $scen .vmc)
		base=/tmp/run/$tag/$name
		mkdir -p /tmp/run/$tag
		rm -rf /tmp/ff; mkdir -p /tmp/ff
		echo "[lab] $tag $name" > /dev/console
		dmesg -c > /dev/null
		case "$opts" in
		-) timeout 120 /bin/vmc-run $scen > $base.canon 2> $base.stderr ;;
		"-ff -o") timeout 120 strace -ff -o /tmp/ff/$name /bin/vmc-run $scen > $base.canon 2> $base.stderr ;;
		*) timeout 120 strace $opts -o $base.strace /bin/vmc-run $scen > $base.canon 2> $base.stderr ;;
		esac
		echo "$tag/$name api=$api strace=$opts exit=$?" >> /tmp/status.txt
		emit $tag/$name.canon $base.canon
		[ -s $base.stderr ] && emit $tag/$name.stderr $base.stderr
		[ -f $base.strace ] && emit $tag/$name.strace $base.strace
		for f in /tmp/ff/$name.*; do
			[ -f "$f" ] && emit $tag/$name.strace.${f##*.} $f
		done
		[ "$opts" = "-" ] && { dmesg -c > $base.kmsg; emit $tag/$name.kmsg $base.kmsg; }
		rm -f $base.*
	done
done
emit status.txt /tmp/status.txt
echo "=====ALL DONE=====" > $OUT
sync
# this tiny kernel has no working ACPI power-off: reboot, and QEMU runs with -no-reboot
reboot -f
sleep 5
echo b > /proc/sysrq-trigger
