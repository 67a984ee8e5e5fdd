#!/usr/bin/env bash
# TarsCpp's QuickStartDemo client in its sync mode (one call at a time, waiting for each reply)
# against TarsCpp's HelloServer and against a Rust server, alternating, in one sitting: the
# client's own average latency per call, medians and the Rust/C++ ratio. The sync counterpart
# of ../shared/peers/tarscpp/compare.sh (which drives the async mode), with the same peers:
#   benches/compare_sync.sh RUST_SERVER [ROUNDS=5] [COUNT=20000]
# RUST_SERVER is started with `--listen 127.0.0.1:8999`, like examples/hello_server. Port 8999
# must be free.
set -u
peers=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../shared/peers/tarscpp" && pwd)
rust=${1:?usage: compare_sync.sh RUST_SERVER [ROUNDS] [COUNT]}
rounds=${2:-5}; count=${3:-20000}
work=$(mktemp -d); mkdir -p $work/data $work/log
sed "s#@DIR@#$work#g" $peers/hello-server.conf.in > $work/config.conf
busy() { (exec 3<>/dev/tcp/127.0.0.1/8999) 2>/dev/null; }
wait_port() { for _ in $(seq 1 100); do busy && return 0; sleep 0.1; done; return 1; }
busy && { echo "port 8999 is already in use: stop whatever listens there first"; exit 2; }
run() {  # label pid
  wait_port || { echo "$1 failed: server did not listen on 8999"; return; }
  sleep 0.3
  local avg
  avg=$(cd $work && timeout 300 $peers/QuickStartDemoClient --count=$count --call=sync --thread=1 \
        --buffersize=16 --netthread=1 2>&1 | grep -o 'avg:[0-9.]*us' | grep -o '[0-9.]*')
  if [ -z "$avg" ]; then echo "$1 failed: the client did not finish"; return; fi
  echo "$1 avg_latency_us $avg"
}
results=$(for r in $(seq 1 $rounds); do
  (cd $work && exec $peers/QuickStartDemoServer --config=$work/config.conf) >/dev/null 2>&1 & p=$!
  run tarscpp $p; kill $p 2>/dev/null; wait $p 2>/dev/null; sleep 0.5
  $rust --listen 127.0.0.1:8999 >/dev/null 2>&1 & p=$!
  run rust $p; kill $p 2>/dev/null; wait $p 2>/dev/null; sleep 0.5
done)
echo "$results"
echo "$results" | awk '
  /^tarscpp avg/ {c[++i]=$3} /^rust avg/ {r[++j]=$3}
  function med(a, n,   k, t) { for (k = 1; k <= n; k++) t[k] = a[k]; asort(t); return n ? t[int((n + 1) / 2)] : 0 }
  END { printf "median: tarscpp %.1f us, rust %.1f us per sync call\n", med(c,i), med(r,j)
        if (i && j && med(c,i)) printf "rust/tarscpp: sync latency %.2fx\n", med(r,j)/med(c,i) }'
rm -rf $work
