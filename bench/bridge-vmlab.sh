#!/usr/bin/env bash
# The monolithic bridge's cost (root; ../shared/tools/vm-lab; after build.ps1 -Task Layout): libvirtd 9.0 in vm-lab with
# out/libvirt/libvirt_driver_nwfilter.so, nwfilterd in the lab's namespace on the socket libvirtd sees as
# /run/libvirt/virtnwfilterd-sock. Measures
#   1. N binding creates (then N deletes) in one virsh session through libvirtd (qemu:///system: libvirtd's shared
#      nwfilter driver = our module -> nwfilter-bridge -> nwfilterd), and the same N straight to nwfilterd's socket:
#      the difference is what the bridge adds per call;
#   2. the first call after nwfilterd restarted (the module notices, starts a new bridge, handshakes) and the next;
#   3. virsh start of a guest with one clean-traffic NIC and of the same guest without a filter (start to filtered).
# Prints one line per figure. Leaves nothing: vm-lab down and the temp directory removed at the end.
set -euo pipefail
N=${N:-50}
BACKEND=${BACKEND:-Nftables}   # the firewall part small, so that what the bridge adds shows
here=$(cd "$(dirname "$0")/.." && pwd)
lab=${VMLAB:-$here/../shared/tools/vm-lab}
module=$here/out/libvirt/libvirt_driver_nwfilter.so
daemon=${NWFILTERD:-$here/out/nwfilterd/nwfilterd}
[ "$(id -u)" = 0 ] || { echo "bridge-vmlab: needs root" >&2; exit 2; }
[ -x "$lab" ] && [ -f "$module" ] && [ -x "$daemon" ] || { echo "bridge-vmlab: needs $lab, $module, $daemon (build.ps1 -Task Layout)" >&2; exit 2; }
vmdir=${VMLAB_DIR:-/tmp/vmlab}
work=$(mktemp -d /tmp/nwfbench-bridge-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 1; "$lab" down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p /var/lib/libvirt /var/cache/libvirt /var/log/libvirt "$work"/{config,state}
VMLAB_NWFILTER=$module "$lab" up >/dev/null 2>&1
sock=$vmdir/root/run/virtnwfilterd-sock
start_daemon() {  # start_daemon [--backend B]
  : >"$work/daemon.log"
  NWFILTER_CONFIG_DIR=$work/config NWFILTER_STATE_DIR=$work/state setsid ip netns exec vmlab "$daemon" \
    --libvirt-socket "$sock" --libvirt-binding-dir "$work/none" "$@" >>"$work/daemon.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do grep -q "^listening on" "$work/daemon.log" 2>/dev/null && break; sleep 0.1; done
}
start_daemon --backend "$BACKEND"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

create=$work/create.virsh; delete=$work/delete.virsh; : >"$create"; : >"$delete"
for i in $(seq 1 "$N"); do
  printf "<filterbinding><owner><name>bench</name><uuid>6a3f1c1e-0000-4000-8000-%012d</uuid></owner><portdev name='nwb%d'/><mac address='52:54:00:aa:%02x:%02x'/><filterref filter='clean-traffic'><parameter name='IP' value='10.98.%d.%d'/></filterref></filterbinding>\n" \
    "$i" "$i" $((i / 256)) $((i % 256)) $((i / 256)) $((i % 256)) >"$work/b$i.xml"
  echo "nwfilter-binding-create $work/b$i.xml" >>"$create"; echo "nwfilter-binding-delete nwb$i" >>"$delete"
done
run() { local uri=$1 file=$2 t; t=$(date +%s%N); virsh -q -c "$uri" <"$file" >/dev/null; ms "$t"; }
via="qemu:///system?socket=$vmdir/run/libvirt-sock"; direct="nwfilter:///system?socket=$sock"
run "$via" "$create" >/dev/null; run "$via" "$delete" >/dev/null   # warm-up (JIT, first rules)
c1=$(run "$via" "$create"); d1=$(run "$via" "$delete")
c2=$(run "$direct" "$create"); d2=$(run "$direct" "$delete")
echo "backend $BACKEND"
echo "through libvirtd and the bridge: $N creates $c1 ms ($(( c1 * 1000 / N )) us each), $N deletes $d1 ms ($(( d1 * 1000 / N )) us each)"
echo "straight to nwfilterd's socket:  $N creates $c2 ms ($(( c2 * 1000 / N )) us each), $N deletes $d2 ms ($(( d2 * 1000 / N )) us each)"

# nwfilterd restarted with its default backend (the guests' clean-traffic learns its IP)
kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; start_daemon
echo 'nwfilter-list' >"$work/list.virsh"
r1=$(run "$via" "$work/list.virsh"); r2=$(run "$via" "$work/list.virsh")
echo "virsh nwfilter-list through libvirtd: first after an nwfilterd restart $r1 ms (reconnect, new bridge), next $r2 ms"

"$lab" define nwb-f --filter clean-traffic >/dev/null; "$lab" define nwb-u >/dev/null
for g in nwb-u nwb-f nwb-u nwb-f nwb-u nwb-f; do
  t=$(date +%s%N); "$lab" virsh -q start "$g" >/dev/null; echo "$g $(ms "$t")" >>"$work/starts"; "$lab" stop "$g" >/dev/null
done
awk '{ s[$1] += $2; n[$1]++ } END { printf "virsh start, mean of %d: one clean-traffic NIC %d ms, no filter %d ms\n", n["nwb-f"], s["nwb-f"] / n["nwb-f"], s["nwb-u"] / n["nwb-u"] }' "$work/starts"
