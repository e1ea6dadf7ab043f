#!/usr/bin/env bash
# Install one kubectl release into DIR, checked against the SHA-256 that dl.k8s.io publishes beside it.
# Usage: install-kubectl.sh VERSION DIR   (e.g. v1.32.4 "$RUNNER_TEMP/kustomize")
# Two uses: `appliance fetch` renders the git pins with `kubectl kustomize`, and a render is byte-exact
# only with the kustomize the pins were made with (kubectl v1.32.4); cluster jobs want a kubectl
# within one minor version of their node image.
set -euo pipefail
if [ "$#" -ne 2 ] || ! [[ "$1" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "usage: $0 vX.Y.Z DIR" >&2
  exit 2
fi
version=$1
dir=$2
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "no kubectl build for machine $(uname -m)" >&2; exit 3 ;;
esac
base="https://dl.k8s.io/release/${version}/bin/linux/${arch}"
mkdir -p "$dir"
curl --fail --silent --show-error --location --retry 3 --output "$dir/kubectl.partial" "$base/kubectl"
expected=$(curl --fail --silent --show-error --location --retry 3 "$base/kubectl.sha256")
echo "${expected}  $dir/kubectl.partial" | sha256sum --check --strict --quiet
chmod 0755 "$dir/kubectl.partial"
mv "$dir/kubectl.partial" "$dir/kubectl"
"$dir/kubectl" version --client
