#!/usr/bin/env bash
# The cart example as a user runs it: every command is a fresh process on
# the same data dir, so each answer proves recovery (snapshots every 5
# events, events after them replayed).
set -euo pipefail
CART=${1:?usage: cart_test.sh path/to/cart}
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
"$CART" "$D" add apple 3 >/dev/null
"$CART" "$D" add pear 1 >/dev/null
for i in 1 2 3 4 5 6; do "$CART" "$D" add "item$i" "$i" >/dev/null; done
"$CART" "$D" remove pear >/dev/null
"$CART" "$D" add apple 7 >/dev/null
out=$("$CART" "$D" show | sort)
want=$(printf '%s\n' "apple x7" "item1 x1" "item2 x2" "item3 x3" "item4 x4" "item5 x5" "item6 x6" | sort)
[ "$out" = "$want" ] || { echo "FAIL: cart shows:"; echo "$out"; exit 1; }
echo "cart: ok"
