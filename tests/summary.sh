#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Print each Check suite's summary line from the automake test logs, then one
# total line in the plain "N passed, N failed, N skipped" form.
# Usage: tests/summary.sh BUILDDIR
set -u
builddir=${1:-.}

passed=0 failed=0 skipped=0
for trs in $(find "$builddir/tests" -name '*.trs' 2>/dev/null | sort); do
	log=${trs%.trs}.log
	name=${trs#"$builddir"/}
	name=${name%.trs}
	result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
	line=$(grep -E '^[0-9]+%: Checks: ' "$log" 2>/dev/null | tail -n 1)
	if [ -n "$line" ]; then
		checks=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
		fails=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
		errors=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
		passed=$((passed + checks - fails - errors))
		failed=$((failed + fails + errors))
	elif [ "$result" = SKIP ]; then
		skipped=$((skipped + 1))
		line="skipped: $(grep -m1 -i 'skip' "$log" 2>/dev/null)"
	elif [ "$result" = PASS ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	printf '%-40s %-5s %s\n' "$name" "$result" "$line"
done
echo "$passed passed, $failed failed, $skipped skipped"
