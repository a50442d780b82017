#!/usr/bin/env bash
# Container images for the real-node tests, made without Docker or a registry: a static pause
# program (the sandbox image) and busybox-static (the pods' image), each packed into an OCI layout
# with umoci and archived with skopeo as a docker-archive that `ctr -n k8s.io images import` loads.
# Usage: build.sh OUT_DIR. Writes OUT_DIR/pause.tar and OUT_DIR/busybox.tar with the refs below.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
pause_ref=hami.local/pause:1
busybox_ref="hami.local/busybox:$(busybox | sed -n 1p | sed -E 's/^BusyBox v([0-9.]+).*/\1/')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# pack NAME REF ROOTFS_SETUP_FN ENTRYPOINT...: an image with one layer holding what ROOTFS_SETUP_FN
# puts in its first argument.
pack() {
  local name="$1" ref="$2" setup="$3"
  shift 3
  local layout="$work/$name-oci" bundle="$work/$name-bundle"
  umoci init --layout "$layout"
  umoci new --image "$layout:latest"
  umoci unpack --rootless --image "$layout:latest" "$bundle"
  "$setup" "$bundle/rootfs"
  umoci repack --image "$layout:latest" "$bundle"
  local entry=()
  for arg in "$@"; do entry+=(--config.entrypoint "$arg"); done
  umoci config --image "$layout:latest" --config.user 0:0 "${entry[@]}" \
    --config.env PATH=/bin:/usr/bin --architecture amd64 --os linux
  rm -f "$out/$name.tar"
  skopeo copy --quiet "oci:$layout:latest" "docker-archive:$out/$name.tar:$ref"
  echo "images: $ref -> $out/$name.tar"
}

pause_rootfs() {
  gcc -static -O2 -o "$1/pause" "$here/pause.c"
}

busybox_rootfs() {
  mkdir -p "$1/bin" "$1/tmp" "$1/etc"
  cp "$(command -v busybox)" "$1/bin/busybox"
  # Relative links: `busybox --install` would point them at this build's temp path.
  for applet in $(busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$1/bin/$applet"
  done
}

mkdir -p "$out"
pack pause "$pause_ref" pause_rootfs /pause
pack busybox "$busybox_ref" busybox_rootfs /bin/sh
printf '%s\n%s\n' "$pause_ref" "$busybox_ref" >"$out/refs"
