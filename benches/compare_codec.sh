#!/usr/bin/env bash
# TarsCpp's codecbench (TarsOutputStream/TarsInputStream on the order record of benches/codec.rs
# and a RequestPacket carrying it) against `cargo bench --bench codec`, alternating, in one
# sitting: ns per operation, medians and the Rust/C++ ratios. First checks that both write the
# same bytes for the order and for the request.
#   benches/compare_codec.sh [ROUNDS=3]
# TarsCpp's request decode copies sBuffer into a vector<char>: it is compared with
# `request_packet/decode/tars_copy` (`decode_from`); `request_packet/decode/tars` (`decode_bytes`,
# the buffer shared, as the server reads requests) is shown beside it. The decodes into borrowed
# views (`.../tars_borrowed`: strings and bytes read in place, `TarsStructRef`) are shown too:
# another Rust type than TarsCpp's owned one, the choice a Rust caller has.
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/.."
codecbench=$(cd ../shared/peers/tarscpp && pwd)/codecbench
rounds=${1:-3}
filter='^(encode|decode)/tars$|^request_packet/(encode|decode)/tars(_copy)?$|^(request_packet/)?decode/tars_borrowed$'
cargo bench --bench codec --no-run 2>/dev/null
rust() { cargo bench -q --bench codec -- --output-format bencher "$@" 2>/dev/null; }

cpp_hex=$($codecbench 1000 1 | grep '_hex=' | sort)
rust_hex=$(rust --warm-up-time 0.1 --measurement-time 0.1 '^encode/tars$' | grep '_hex=' | sort)
if [ "$cpp_hex" = "$rust_hex" ]; then echo "wire bytes: identical (order and request)"
else echo "wire bytes DIFFER between codecbench and benches/codec.rs"; exit 1; fi

results=$(for r in $(seq 1 "$rounds"); do
  $codecbench | awk '/ns\/op/ {printf "cpp %s_%s %s\n", $1, $2, $3}'
  rust --warm-up-time 1 --measurement-time 3 "$filter" | awk '/^test / {
    name = $2; sub(/^encode\/tars$/, "order_encode", name); sub(/^decode\/tars$/, "order_decode", name)
    sub(/^request_packet\/encode\/tars$/, "request_packet_encode", name)
    sub(/^request_packet\/decode\/tars_copy$/, "request_packet_decode", name)
    sub(/^request_packet\/decode\/tars$/, "request_packet_decode_shared", name)
    sub(/^request_packet\/decode\/tars_borrowed$/, "request_packet_decode_borrowed", name)
    sub(/^decode\/tars_borrowed$/, "order_decode_borrowed", name)
    gsub(/,/, "", $5); printf "rust %s %s\n", name, $5 }'
done)
echo "$results"
echo "$results" | awk '
  { v[$1 " " $2, ++n[$1 " " $2]] = $3 }
  function med(key,   k, t, m) { m = n[key]; for (k = 1; k <= m; k++) t[k] = v[key, k]; asort(t); return m ? t[int((m + 1) / 2)] : 0 }
  END {
    split("order_encode order_decode request_packet_encode request_packet_decode", ops, " ")
    for (i = 1; i <= 4; i++) {
      c = med("cpp " ops[i]); r = med("rust " ops[i])
      printf "median %-22s tarscpp %7.1f ns  rust %7.1f ns  rust/tarscpp %.2fx\n", ops[i], c, r, c ? r / c : 0
    }
    r = med("rust request_packet_decode_shared"); c = med("cpp request_packet_decode")
    printf "median %-22s tarscpp %7.1f ns  rust %7.1f ns  rust/tarscpp %.2fx (buffer shared)\n", "request_packet_decode", c, r, c ? r / c : 0
    split("order_decode request_packet_decode", ops, " ")
    for (i = 1; i <= 2; i++) {
      c = med("cpp " ops[i]); r = med("rust " ops[i] "_borrowed")
      printf "median %-22s tarscpp %7.1f ns  rust %7.1f ns  rust/tarscpp %.2fx (borrowed view)\n", ops[i], c, r, c ? r / c : 0
    }
  }'
