#!/usr/bin/env bash
# Checks deploy/Dockerfile's build plan without a registry or an image
# build: runs its `cargo build` in this checkout (dev profile instead of
# release, so CI's existing build is reused), then checks that every file
# the runtime stage copies from the build stage was produced, and that
# the build context holds every other COPY source. Cheap: seconds after
# CI's build.
set -euo pipefail
cd "$(dirname "$0")/../.."
DF=${1:-deploy/Dockerfile}
fail() { echo "dockerfile-check: FAILED: $*" >&2; exit 1; }

# Dockerfile instructions with continuation lines joined.
joined=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$DF")

build=$(grep -E '^RUN cargo build' <<<"$joined" | head -1)
[ -n "$build" ] || fail "no RUN cargo build in $DF"
cargo_cmd=$(sed -E 's/^RUN //; s/&&.*$//' <<<"$build")
dev_cmd=$(sed -E 's/ --release//' <<<"$cargo_cmd")
echo "dockerfile-check: $dev_cmd"
eval "$dev_cmd"

# `cp target/release/X ... /out/` lines: what the build stage leaves in /out.
produced=()
for f in $(grep -oE 'target/release/[A-Za-z0-9_-]+' <<<"$build"); do
  bin=${f#target/release/}
  [ -x "target/debug/$bin" ] || fail "the build command does not produce $bin (target/debug/$bin missing)"
  produced+=("/out/$bin")
done

checked=0
while read -r line; do
  args=$(sed -E 's/^COPY +//' <<<"$line")
  from=
  if [[ $args == --from=* ]]; then from=${args%% *}; from=${from#--from=}; args=${args#* }; fi
  read -r -a words <<<"$args"
  unset 'words[${#words[@]}-1]'   # the destination
  for src in "${words[@]}"; do
    if [ "$from" = build ]; then
      printf '%s\n' "${produced[@]}" | grep -qx "$src" || fail "COPY --from=build $src: not produced by the build stage (${produced[*]})"
    elif [ -n "$from" ]; then
      fail "COPY --from=$from: unknown stage"
    else
      [ "$src" = . ] || [ -e "$src" ] || fail "COPY $src: not in the build context"
    fi
    checked=$((checked + 1))
  done
done < <(grep -E '^COPY ' <<<"$joined")
[ "$checked" -gt 0 ] || fail "no COPY sources found"
echo "dockerfile-check: $checked COPY sources present"
