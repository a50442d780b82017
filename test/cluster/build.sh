#!/usr/bin/env bash
# Builds the pinned control plane (etcd, kube-apiserver, kube-scheduler, kubectl), the kubelet for the
# real-node tests and helm for the chart checks from the Go modules in this folder into
# .cluster-bin/, reusing the previous build while the pins (go.mod/go.sum, helm_version) are unchanged. Then,
# where the real-node packages are installed (umoci, skopeo, busybox-static, gcc), the node's container
# images into .cluster-bin/images/ (images/build.sh), likewise reused while their inputs are unchanged.
# The first build downloads the Kubernetes modules and compiles for a few minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../.cluster-bin"
bins=(etcd kube-apiserver kube-scheduler kubectl kubelet helm)
helm_version=v3.22.0

binaries() {
  if ! command -v go >/dev/null 2>&1; then
    echo "cluster:build needs Go >= 1.26 (https://go.dev/dl/); the Kubernetes control plane is built from source" >&2
    exit 1
  fi
  local stamp
  stamp="$( (cat "$here/go.mod" "$here/go.sum" "$here/etcd/main.go"; echo "$helm_version") | sha256sum | cut -d' ' -f1)"
  local current=1
  for bin in "${bins[@]}"; do [ -x "$out/$bin" ] || current=0; done
  if [ "$current" = 1 ] && [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
    echo "cluster:build: binaries in .cluster-bin are current ($(go version | cut -d' ' -f3))"
    return
  fi
  mkdir -p "$out"
  cd "$here"
  # Module builds carry no release stamp; set the one `kubectl version` and the components report.
  local k8s minor pkg ldflags start
  k8s="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
  minor="$(echo "$k8s" | cut -d. -f2)"
  pkg=k8s.io/component-base/version
  ldflags="-s -w -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  echo "cluster:build: downloading modules (first run: a few hundred MB)..."
  go mod download
  for target in k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl ./etcd \
    k8s.io/kubernetes/cmd/kubelet; do
    echo "cluster:build: building ${target##*/} ..."
    start=$SECONDS
    go build -buildvcs=false -ldflags "$ldflags" -o "$out/" "$target"
    echo "cluster:build: ${target##*/} done in $((SECONDS - start)) s"
  done
  echo "cluster:build: building helm $helm_version (chart checks) ..."
  start=$SECONDS
  GOBIN="$out" GOFLAGS=-buildvcs=false go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version" "helm.sh/helm/v3/cmd/helm@$helm_version"
  echo "cluster:build: helm done in $((SECONDS - start)) s"
  echo "$stamp" >"$out/.stamp"
  "$out/kube-apiserver" --version
}

images() {
  local tool
  for tool in umoci skopeo busybox gcc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "cluster:build: real-node images skipped: $tool not installed (apt-get install umoci skopeo busybox-static gcc)"
      return
    fi
  done
  local stamp
  stamp="$( (cat "$here/images/build.sh" "$here/images/pause.c"; busybox | sed -n 1p; umoci --version; skopeo --version) | sha256sum | cut -d' ' -f1)"
  if [ -f "$out/images/.stamp" ] && [ "$(cat "$out/images/.stamp")" = "$stamp" ]; then
    echo "cluster:build: real-node images in .cluster-bin/images are current"
    return
  fi
  bash "$here/images/build.sh" "$out/images"
  echo "$stamp" >"$out/images/.stamp"
}

binaries
images
