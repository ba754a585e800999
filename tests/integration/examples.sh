#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The example pair end to end, as ./quickstart demo runs it: a private ipcd,
# the example.kv service, the libevent client watching "color", the command
# line client's demonstration, then a stop. Asserts what the examples promise.
set -u

builddir=${abs_top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
ipcd=${IPCD_TEST_BINARY:-$builddir/ipcd/ipcd}
ex=$builddir/examples
dir=$(mktemp -d "${TMPDIR:-/tmp}/ipcd-examples.XXXXXX")
sock=$dir/ipcd.sock
pids=""

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	for f in "$dir"/*.log; do echo "--- $f"; cat "$f"; done
	exit 1
}

expect() { # FILE PATTERN
	grep -q -- "$2" "$1" || fail "$(basename "$1") lacks '$2'"
}

[ -x "$ex/kv-service" ] && [ -x "$ex/kv-client" ] && [ -x "$ex/kv-event-client" ] ||
	fail "examples not built in $ex"

"$ipcd" --foreground --socket "$sock" 2>"$dir/ipcd.log" &
pids="$pids $!"
# ipcd binds before it serves; the clients wait for the service by name.
i=0
while [ ! -S "$sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$sock" ] || fail "ipcd did not listen"

"$ex/kv-service" --socket "$sock" >"$dir/service.log" 2>&1 &
service=$!
"$ex/kv-event-client" --socket "$sock" >"$dir/event.log" 2>&1 &
event=$!
pids="$pids $service $event"

# The watch must be in place before the demo puts "color".
i=0
while ! grep -q "watching color" "$dir/event.log" 2>/dev/null && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done

"$ex/kv-client" --socket "$sock" demo >"$dir/client.log" 2>&1 || fail "kv-client demo failed"
"$ex/kv-client" --socket "$sock" stop >>"$dir/client.log" 2>&1 || fail "kv-client stop failed"
wait "$service" || fail "kv-service exited with $?"
wait "$event" || fail "kv-event-client exited with $?"

expect "$dir/client.log" "put color=blue: ok"
expect "$dir/client.log" "get color: blue"
expect "$dir/client.log" "get shape: No such file or directory"
expect "$dir/client.log" "524288 bytes in .* every byte matches"
expect "$dir/client.log" "example.kv has exited"
expect "$dir/service.log" "log: hello from kv-client"
expect "$dir/service.log" "example.kv: stopped"
expect "$dir/event.log" "watch: color was put"
expect "$dir/event.log" "round 1: get ticks: 1"
expect "$dir/event.log" "service died"
echo "PASS: the example pair, the watch and the death notice"
