#!/usr/bin/env bash
# CI setup for the end-to-end suite (called by .ci/run before the tests): checks the tools the
# e2e tests run, then builds kube-apiserver and etcd from source through the Go module proxy, or
# reuses them from ~/.cache/aws-iam-authenticator-e2e/bin (see scripts/kube/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in openssl kubectl aws; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
  echo "ci_setup.sh: the e2e suite needs ${missing[*]} on PATH (openssl for the test cluster's" \
    "certificates, kubectl as the client, the aws CLI v1 for 'aws eks get-token')" >&2
  exit 1
fi

bash scripts/kube/build.sh
