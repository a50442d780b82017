#!/usr/bin/env bash
# End to end on a kind cluster (needs Docker, kind, kubectl and helm): builds the image, installs the
# chart with mock GPUs (deploy/kind/values-mock.yaml), checks the nodes' nvidia.com/gpu allocatable,
# runs a vGPU pod and reads the HAMi-core limits it received, then deletes the cluster.
# Without Docker or kind it says so and exits 0 (skipped), as on the CI machines.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in docker kind kubectl helm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "e2e (kind): SKIPPED - $tool is not installed; the kind end-to-end test needs Docker, kind, kubectl and helm"
    exit 0
  fi
done
if ! docker info >/dev/null 2>&1; then
  echo "e2e (kind): SKIPPED - no Docker engine is reachable (docker info failed)"
  exit 0
fi
cluster=hami-e2e
trap 'kind delete cluster --name "$cluster" >/dev/null 2>&1 || true' EXIT
kind create cluster --config deploy/kind/kind-config.yaml --wait 120s
docker build -t hami-ts:dev .
kind load docker-image hami-ts:dev --name "$cluster"
helm install hami deploy/helm/hami --namespace kube-system -f deploy/kind/values-mock.yaml --wait --timeout 5m
kubectl -n kube-system get pod | grep hami
for node in $(kubectl get node -l gpu=on -o name); do
  gpus=$(kubectl get "$node" -o jsonpath='{.status.allocatable.nvidia\.com/gpu}')
  echo "$node allocatable nvidia.com/gpu=$gpus"
  [ "$gpus" = "30" ] || { echo "expected 3 mock GPUs x deviceSplitCount 10 = 30"; exit 1; }
done
kubectl apply -f - <<'POD'
apiVersion: v1
kind: Pod
metadata:
  name: gpu-verify
spec:
  restartPolicy: Never
  containers:
    - name: cuda
      image: busybox:1.36
      command: ["sh", "-c", "env | grep -E 'CUDA_DEVICE|NVIDIA_VISIBLE' | sort"]
      env:
        - { name: CUDA_DISABLE_CONTROL, value: "true" } # no real CUDA in kind: do not preload HAMi-core
      resources:
        limits: { nvidia.com/gpu: 1, nvidia.com/gpumem: 3000, nvidia.com/gpucores: 30 }
POD
kubectl wait --for=jsonpath='{.status.phase}'=Succeeded pod/gpu-verify --timeout=180s
logs=$(kubectl logs gpu-verify)
echo "$logs"
grep -q 'CUDA_DEVICE_MEMORY_LIMIT_0=3000m' <<<"$logs"
grep -q 'CUDA_DEVICE_SM_LIMIT=30' <<<"$logs"
echo "e2e (kind): PASSED"
