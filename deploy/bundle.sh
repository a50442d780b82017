#!/usr/bin/env bash
# Air-gapped install bundle (`npm run bundle -- OUT_DIR`, default bundle/): the chart as a .tgz, our
# image as an archive for `ctr -n k8s.io images import` (made without Docker or a registry:
# test/cluster/images/hami.sh, tagged as the chart names it), install.sh, and IMAGES.txt listing the
# upstream images the chart also runs, with the command that archives each on a connected machine.
# Needs helm (npm run cluster:build), umoci and skopeo.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$root/bundle}" && cd "${1:-$root/bundle}" && pwd)"
helm="$root/.cluster-bin/helm"
chart="$root/deploy/helm/hami"
for tool in "$helm" umoci skopeo; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "bundle: $tool not found (helm: npm run cluster:build; umoci, skopeo: apt-get install umoci skopeo)" >&2
    exit 1
  }
done
version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$chart/Chart.yaml")"
repository="$(awk '/^  repository:/ { print $2; exit }' "$chart/values.yaml")"
ours="$repository:$version"

mkdir -p "$out/images"
"$helm" package "$chart" --destination "$out" >/dev/null
bash "$root/test/cluster/images/hami.sh" "$out/images" "$ours" >/dev/null
rm -f "$out/images/hami.ref"

{
  echo "# Images the chart runs besides $ours (in images/hami.tar). On a machine with registry"
  echo "# access, archive each into images/, then copy the bundle to the air-gapped side:"
  "$helm" template hami "$chart" --namespace kube-system |
    sed -nE 's/^[[:space:]]+image: "?([^"]+)"?$/\1/p' | sort -u | grep -vxF "$ours" |
    while read -r image; do
      name="$(echo "$image" | tr '/:' '__')"
      echo "skopeo copy docker://$image docker-archive:images/$name.tar:$image"
    done
} >"$out/IMAGES.txt"

cat >"$out/install.sh" <<SCRIPT
#!/usr/bin/env bash
# hami-ts $version, air-gapped. On every node (containerd):   ./install.sh images
# Then, with kubectl access, label GPU nodes and install:      kubectl label node NODE gpu=on
#                                                              ./install.sh [helm flags, e.g. --set ...]
set -euo pipefail
here="\$(cd "\$(dirname "\$0")" && pwd)"
if [ "\${1:-}" = images ]; then
  for archive in "\$here"/images/*.tar; do ctr -n k8s.io images import "\$archive"; done
  exit 0
fi
helm upgrade --install hami "\$here/hami-$version.tgz" --namespace kube-system "\$@"
SCRIPT
chmod +x "$out/install.sh"
echo "bundle: $out (hami-$version.tgz, images/hami.tar as $ours, install.sh, IMAGES.txt)"
