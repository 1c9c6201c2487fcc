#!/bin/busybox sh
# PID 1 of the lab VM. Runs every scenario under the vmc-run runner, untraced, under each
# strace option set and under the eBPF capture (bpftrace running the package's vfio-mig.bt
# with the command line 'vfio-migcheck capture' builds, /capture-command), measures the
# capture's overhead, and prints each result file to the second serial port (ttyS1) between
#   =====BEGIN <relative path>=====  and  =====END <relative path>=====
# lines; the host splits that stream back into files (python -m vfio_migcheck.conformance.serial).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
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
	echo "bpftrace: $(bpftrace --version 2>&1 | head -n 1)"
	echo "capture command: $(tr '\n' ' ' < /capture-command)"
	echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	echo "mtty-2 available_instances: $(cat /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/available_instances)"
} > /tmp/env.txt 2>&1
emit env.txt /tmp/env.txt

# Start a command held at a fifo until bpftrace (the capture command line) has attached to
# it, then let it run; its pid is the one bpftrace follows (the subshell execs the command).
# Args: OUTPUT-BASE COMMAND...; sets $status to the command's exit status.
start_captured() {
	out=$1; shift
	rm -f /tmp/go; mkfifo /tmp/go
	( read x < /tmp/go; exec "$@" ) &
	target=$!
	set -- $(sed "s/@PID@/$target/" /capture-command)
	"$@" > $out.bpftrace 2> $out.bterr &
	bt=$!
	n=0
	until grep -q '^vfio-mig-bt 1 attached' $out.bpftrace 2>/dev/null; do
		sleep 0.1; n=$((n + 1))
		[ $n -gt 1200 ] && break
	done
}
release_captured() {
	echo go > /tmp/go
	wait $target; status=$?
}
wait_capture() {
	n=0                        # vfio-mig.bt exits by itself once its targets are gone
	while kill -0 $bt 2>/dev/null; do
		sleep 0.1; n=$((n + 1))
		[ $n -eq 300 ] && kill -INT $bt
	done
	wait $bt
}

# tag | api | strace options ("-" = no strace, "bpftrace" = the eBPF capture). -ff -o writes
# one file per pid (handled below). lab.variants=a,b on the kernel command line picks some
# variants (and "overhead" the overhead measurement); without it everything runs.
VARIANTS="
plain|group|-
cdev_plain|cdev|-
f_y_tt_T|group|-f -y -tt -T
f_Xverbose_ttt|group|-f -X verbose -ttt
ff_o|group|-ff -o
yy_r|cdev|-yy -r
cdev_f_y_tt_T|cdev|-f -y -tt -T
bt|group|bpftrace
cdev_bt|cdev|bpftrace
"
WANTED=$(sed -n 's/.*lab\.variants=\([^ ]*\).*/,\1,/p' /proc/cmdline)
: > /tmp/status.txt
echo "$VARIANTS" | while IFS='|' read tag api opts; do
	[ -n "$tag" ] || continue
	case "$WANTED" in ""|*",$tag,"*) ;; *) continue ;; esac
	if [ "$opts" = bpftrace ]; then      # one capture for the whole variant (run-variant.sh)
		dir=/tmp/run/$tag
		mkdir -p $dir; : > $dir/pids.txt; : > $dir/status.txt
		start_captured $dir/capture /bin/run-variant $api $dir
		release_captured
		wait_capture
		cat $dir/status.txt >> /tmp/status.txt
		for f in $dir/*.canon; do
			name=$(basename $f .canon)
			emit $tag/$name.canon $f
			[ -s $dir/$name.stderr ] && emit $tag/$name.stderr $dir/$name.stderr
		done
		emit $tag/capture.bpftrace $dir/capture.bpftrace
		emit $tag/pids.txt $dir/pids.txt
		[ -s $dir/capture.bterr ] && emit $tag/capture.bterr $dir/capture.bterr
		rm -rf $dir
		continue
	fi
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

# Overhead of the capture: one shell runs the same VFIO-heavy scenario OVH_RUNS times, untraced,
# under strace -f, and under the eBPF capture (which follows the shell's children); three
# rounds, interleaved; wall times from /proc/uptime.
OVH_SCEN=/scenarios/group/pairs-RESUMING-complete.vmc
OVH_RUNS=20
now() { cut -d' ' -f1 /proc/uptime; }
case "$WANTED" in ""|*",overhead,"*)
	printf 'i=0\nwhile [ $i -lt %s ]; do /bin/vmc-run %s > /dev/null 2>&1; i=$((i + 1)); done\n' \
		$OVH_RUNS $OVH_SCEN > /tmp/loop.sh
	echo "scenario $OVH_SCEN runs $OVH_RUNS" > /tmp/overhead.txt
	for round in 1 2 3; do
		echo "[lab] overhead round $round" > /dev/console
		t0=$(now); sh /tmp/loop.sh; t1=$(now)
		echo "untraced $round $t0 $t1" >> /tmp/overhead.txt
		t0=$(now); strace -f -o /dev/null sh /tmp/loop.sh; t1=$(now)
		echo "strace_f $round $t0 $t1" >> /tmp/overhead.txt
		start_captured /tmp/ovh sh /tmp/loop.sh
		t0=$(now); release_captured; t1=$(now)     # the loop's time, not bpftrace's exit
		wait_capture
		echo "capture $round $t0 $t1 lines=$(wc -l < /tmp/ovh.bpftrace)" >> /tmp/overhead.txt
	done
	emit overhead.txt /tmp/overhead.txt
	emit overhead-last.bpftrace /tmp/ovh.bpftrace
	;;
esac
echo "=====ALL DONE=====" > $OUT
sync
# this tiny kernel has no working ACPI power-off: reboot, and QEMU runs with -no-reboot
reboot -f
sleep 5
echo b > /proc/sysrq-trigger
