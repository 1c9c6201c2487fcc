#!/bin/busybox sh
# run-variant API DIR: every scenario of API under vmc-run, one after the other, results in DIR.
# init.sh runs it under ONE eBPF capture per variant (bpftrace compiles its program once: in
# the TCG VM that takes most of a minute); DIR/pids.txt maps each scenario to its runner's pid
# so the host can cut the capture into one file per scenario (python -m
# vfio_migcheck.conformance.split_capture), each the runner's process tree.
api=$1
dir=$2
tag=$(basename $dir)
for scen in /scenarios/$api/*.vmc; do
	name=$(basename $scen .vmc)
	echo "[lab] $tag $name" > /dev/console
	timeout 120 /bin/vmc-run $scen > $dir/$name.canon 2> $dir/$name.stderr &
	pid=$!                     # busybox timeout execs the runner in this very process
	echo "$name $pid" >> $dir/pids.txt
	wait $pid
	echo "$tag/$name api=$api strace=bpftrace exit=$?" >> $dir/status.txt
done
