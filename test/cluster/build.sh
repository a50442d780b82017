#!/usr/bin/env bash
# Builds the pinned control plane (etcd, kube-apiserver, kube-scheduler, kubectl), the kubelet for the
# real-node tests, nats-server (tests and local mode) and helm for the chart checks from the Go module
# proxy into .cluster-bin/, reusing each previous build while its pins are unchanged. Then,
# where the real-node packages are installed (umoci, skopeo, busybox-static, gcc), the node's container
# images into .cluster-bin/images/ (images/build.sh), likewise reused while their inputs are unchanged.
# The first build downloads the Kubernetes modules and compiles for many minutes: each step says what
# it builds and how long it took here last time; on a terminal, one line counts the seconds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../.cluster-bin"
bins=(etcd kube-apiserver kube-scheduler kubectl kubelet)
helm_version=v3.22.0
nats_version=v2.15.2

# Runs a build step ("$@") named $1's first word, with progress: the time the same step took on this
# machine last time, a line counting seconds on a terminal (plain lines otherwise), the time taken.
timed() {
  local name=$1 last="" start=$SECONDS ticker=""
  shift
  [ -f "$out/.durations/$name" ] && last=" (last time here: $(cat "$out/.durations/$name") s)"
  echo "cluster:build: $name$last ..."
  if [ -t 1 ]; then
    (while sleep 2; do printf '\r  %s: %d s' "$name" $((SECONDS - start)); done) &
    ticker=$!
  fi
  local status=0
  "$@" || status=$?
  if [ -n "$ticker" ]; then
    kill "$ticker" 2>/dev/null || true
    printf '\n'
  fi
  [ "$status" = 0 ] || return "$status"
  mkdir -p "$out/.durations"
  echo $((SECONDS - start)) >"$out/.durations/$name"
  echo "cluster:build: $name done in $((SECONDS - start)) s"
}

binaries() {
  local stamp
  stamp="$( (cat "$here/go.mod" "$here/go.sum" "$here/etcd/main.go") | sha256sum | cut -d' ' -f1)"
  local current=1
  for bin in "${bins[@]}"; do [ -x "$out/$bin" ] || current=0; done
  if [ "$current" = 1 ] && [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
    echo "cluster:build: binaries in .cluster-bin are current ($(go version | cut -d' ' -f3))"
    return
  fi
  mkdir -p "$out"
  cd "$here"
  # Module builds carry no release stamp; set the one `kubectl version` and the components report.
  local k8s minor pkg ldflags
  k8s="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
  minor="$(echo "$k8s" | cut -d. -f2)"
  pkg=k8s.io/component-base/version
  ldflags="-s -w -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  timed "downloading Kubernetes modules (first run: a few hundred MB)" go mod download
  for target in k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl ./etcd \
    k8s.io/kubernetes/cmd/kubelet; do
    timed "building ${target##*/}" go build -buildvcs=false -ldflags "$ldflags" -o "$out/" "$target"
  done
  echo "$stamp" >"$out/.stamp"
  "$out/kube-apiserver" --version
}

# helm as its release build makes it (its Makefile): the version, and the Kubernetes version that
# `helm template` assumes without --kube-version, from the client-go it is built with (without it,
# v1.20.0, and charts asking kubeVersion >= 1.30 do not render).
helm_binary() {
  local mod minor flags
  mod="$(go mod download -json "helm.sh/helm/v3@$helm_version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  minor="$(sed -n 's|^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*|\1|p' "$mod")"
  flags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    flags="$flags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
  done
  go_install helm "$helm_version" "$(echo "$flags" | sha256sum | cut -d' ' -f1)" \
    "helm.sh/helm/v3/cmd/helm@$helm_version" "$flags"
}

# One `go install` of a pinned command into .cluster-bin, skipped while the binary is there and
# was built with the same stamp (its version and flags): NAME VERSION STAMP PACKAGE@VERSION LDFLAGS.
go_install() {
  local name=$1 version=$2 stamp=$3 package=$4 flags=$5
  if [ -x "$out/$name" ] && [ -f "$out/.$name-stamp" ] && [ "$(cat "$out/.$name-stamp")" = "$stamp" ]; then
    echo "cluster:build: $name $version in .cluster-bin is current"
    return
  fi
  GOBIN="$out" GOFLAGS=-buildvcs=false timed "building $name $version" go install -ldflags "$flags" "$package"
  echo "$stamp" >"$out/.$name-stamp"
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

if ! command -v go >/dev/null 2>&1; then
  echo "cluster:build needs Go >= 1.26 (https://go.dev/dl/); the Kubernetes control plane is built from source" >&2
  exit 1
fi
mkdir -p "$out"
# nats-server for the tests and `npm start`, pinned, so no system package is needed.
go_install nats-server "$nats_version" "$nats_version" "github.com/nats-io/nats-server/v2@$nats_version" "-s -w"
binaries
helm_binary
images
