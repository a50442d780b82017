#!/usr/bin/env bash
# Our own image without Docker or a registry, for the real-node test that runs `hami node` as a pod:
# this machine's node binary with the libraries it links, and /app as the Dockerfile lays it out
# (package.json, dist/ from `npm run build`, production node_modules), packed by umoci into one
# layer and archived by skopeo for `ctr -n k8s.io images import`.
# Usage: hami.sh OUT_DIR [REF]. Writes OUT_DIR/hami.tar (tagged REF, default hami.local/hami:<commit>)
# and OUT_DIR/hami.ref.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
out="$1"
ref="${2:-hami.local/hami:$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo dev)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$root" && npm run -s build)
mkdir -p "$work/app"
cp "$root/package.json" "$root/package-lock.json" "$work/app/"
(cd "$work/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
cp -r "$root/dist" "$work/app/dist"

layout="$work/oci" bundle="$work/bundle"
umoci init --layout "$layout"
umoci new --image "$layout:latest"
umoci unpack --rootless --image "$layout:latest" "$bundle"
rootfs="$bundle/rootfs"
node="$(readlink -f "$(command -v node)")"
mkdir -p "$rootfs/usr/bin" "$rootfs/tmp"
cp "$node" "$rootfs/usr/bin/node"
# The shared libraries node links, at the paths the dynamic loader looks them up.
for lib in $(ldd "$node" | sed -nE 's/.*=> (\/[^ ]+) .*/\1/p; s/^\s*(\/[^ ]+) .*/\1/p'); do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
cp -r "$work/app" "$rootfs/app"
umoci repack --image "$layout:latest" "$bundle"
umoci config --image "$layout:latest" --config.user 0:0 \
  --config.entrypoint /usr/bin/node --config.entrypoint /app/dist/cli/main.js \
  --config.env NODE_ENV=production --config.workingdir /app --architecture amd64 --os linux
mkdir -p "$out"
rm -f "$out/hami.tar"
skopeo copy --quiet "oci:$layout:latest" "docker-archive:$out/hami.tar:$ref"
echo "$ref" >"$out/hami.ref"
echo "images: $ref -> $out/hami.tar ($(du -h "$out/hami.tar" | cut -f1))"
