#!/usr/bin/env bash
# Builds, from source through the Go module proxy, the programs the test suites run: the real
# kube-apiserver and etcd (tests that start a Kubernetes API, and tests/e2e/), actionlint (the
# GitHub Actions workflow check in tests/scripts/) and h2_load (this repository's own HTTP/2 load
# client in scripts/bench/h2_load, for `deno task bench:server --client h2` and its test).
# `deno task test` and `deno task e2e` run it through scripts/test_setup.ts when a binary is
# missing; it can also be run by hand. With arguments it builds only the binaries named
# (`build.sh h2_load`).
#
# Binaries land in ${AIA_E2E_CACHE:-~/.cache/aws-iam-authenticator-e2e}/bin and are rebuilt only
# when missing or built for another version (a .version stamp beside each), so running this twice
# is cheap. Nothing is written inside the repository. Two builds into the same cache take turns
# (flock on build.lock there): the second waits, then finds the binaries built.
#
# kube-apiserver: built from the k8s.io/kubernetes module fetched through the Go module proxy.
#   That module's go.mod points every k8s.io/* staging module at ./staging/..., which does not
#   exist in the published module zip, so a throwaway module replaces each one with the
#   published k8s.io/<name> v0.<minor>.<patch> that was cut from the same Kubernetes tag.
# etcd: built from go.etcd.io/etcd/server/v3 through the same proxy. Debian bookworm only ships
#   etcd 3.4, which Kubernetes >= 1.31 no longer supports (its watch-progress and consistent-read
#   checks expect 3.5), and building keeps the script independent of the distribution.
#
# Environment knobs:
#   KUBE_VERSION   Kubernetes tag to build (default below; kubectl on the machine is 1.32).
#   ETCD_VERSION   etcd tag to build (default: the newest 3.5 whose go.mod asks for no newer Go
#                  than Kubernetes 1.32 does, so Go >= 1.23 builds both).
#   ACTIONLINT_VERSION  github.com/rhysd/actionlint tag (default: the newest that Go 1.23 builds;
#                  later releases ask for Go 1.24+).
#   (h2_load has no version to pin: its stamp is the SHA-256 of its go.mod and main.go, the same
#   digest scripts/test_setup.ts computes, so an edited source is rebuilt.)
#   BUILD_JOBS     parallel package builds (default 2: CI machines and dev boxes are shared).
#   GO             go binary (default: go on PATH, else /usr/local/go/bin/go).
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.32.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.21}"
ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.7}"
BUILD_JOBS="${BUILD_JOBS:-2}"
H2_LOAD_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../bench/h2_load" && pwd)"
H2_LOAD_VERSION="sha256-$(cat "$H2_LOAD_SRC/go.mod" "$H2_LOAD_SRC/main.go" | sha256sum | cut -c1-16)"
CACHE_DIR="${AIA_E2E_CACHE:-$HOME/.cache/aws-iam-authenticator-e2e}"
BIN_DIR="$CACHE_DIR/bin"
BUILD_DIR="$CACHE_DIR/build"

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi
if [[ ! -x "$GO" ]]; then
  echo "build.sh: no Go toolchain found (looked on PATH and at /usr/local/go/bin/go); install Go >= 1.23 or set GO=/path/to/go" >&2
  exit 1
fi

# Both modules declare "go 1.23"; an older toolchain would try to download a newer one.
go_minor="$("$GO" env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
if [[ -z "$go_minor" || "$go_minor" -lt 23 ]]; then
  echo "build.sh: $("$GO" version) is too old; kube-apiserver $KUBE_VERSION needs Go >= 1.23" >&2
  exit 1
fi

export GOFLAGS="-trimpath -buildvcs=false -mod=mod"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
LDFLAGS_BASE="-s -w"

start_all=$(date +%s)
# Each line carries the wall time and the time since the build started.
log() { printf '[kube-build %s +%ss] %s\n' "$(date -u +%H:%M:%S)" "$(($(date +%s) - start_all))" "$*"; }

mkdir -p "$BIN_DIR" "$BUILD_DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_DIR/build.lock"
  if ! flock -n 9; then
    log "another build into $CACHE_DIR is running; waiting for it to finish"
    flock 9
  fi
fi
log "Go: $("$GO" version); cache: $CACHE_DIR; jobs: $BUILD_JOBS"

# Version stamp file: a binary built for another version is rebuilt.
stamp_ok() { [[ -x "$BIN_DIR/$1" && -f "$BIN_DIR/$1.version" && "$(cat "$BIN_DIR/$1.version")" == "$2" ]]; }

# go build with a heartbeat once a minute, which keeps CI logs alive and shows the build is still
# going. Usage: compile NAME OUTPUT go-build-args...
compile() {
  local name=$1 out=$2 t0 hb
  shift 2
  t0=$(date +%s)
  # The sleep gets no stdout (a pipe reader such as `| tee` would otherwise wait for it) and is
  # stopped with its loop.
  (
    s=
    trap 'kill $s 2>/dev/null; exit 0' TERM
    while :; do
      sleep 60 >/dev/null 2>&1 &
      s=$!
      wait "$s"
      log "$name: still compiling ($(($(date +%s) - t0))s)"
    done
  ) &
  hb=$!
  # shellcheck disable=SC2064
  trap "kill $hb 2>/dev/null || true" EXIT
  nice -n 5 "$GO" build -p "$BUILD_JOBS" -o "$out" "$@"
  kill "$hb" 2>/dev/null || true
  trap - EXIT
}

build_kube_apiserver() {
  if stamp_ok kube-apiserver "$KUBE_VERSION"; then
    log "kube-apiserver $KUBE_VERSION already built: $BIN_DIR/kube-apiserver"
    return
  fi
  local t0 dir staging_ver minor
  t0=$(date +%s)
  dir="$BUILD_DIR/kube-apiserver-$KUBE_VERSION"
  staging_ver="v0.${KUBE_VERSION#v1.}"
  minor="${KUBE_VERSION#v1.}"
  minor="${minor%%.*}"
  mkdir -p "$dir"
  cd "$dir"
  log "kube-apiserver: downloading k8s.io/kubernetes@$KUBE_VERSION go.mod"
  local kmod
  kmod="$("$GO" mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  if [[ -z "$kmod" || ! -f "$kmod" ]]; then
    echo "build.sh: could not download k8s.io/kubernetes@$KUBE_VERSION through the Go module proxy" >&2
    exit 1
  fi
  # Every "k8s.io/x => ./staging/src/k8s.io/x" line names a staging module to replace.
  local staging
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#\1#p' "$kmod" | sort -u)"
  if [[ -z "$staging" ]]; then
    echo "build.sh: found no staging replace directives in $kmod; is $KUBE_VERSION a Kubernetes release tag?" >&2
    exit 1
  fi
  log "kube-apiserver: replacing $(echo "$staging" | wc -l) staging modules with $staging_ver"
  {
    echo "module aia-e2e/kube-apiserver-build"
    echo
    echo "go 1.23"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m $staging_ver"; done
    echo ")"
  } >go.mod
  printf '//go:build tools\n\npackage main\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >tools.go
  log "kube-apiserver: resolving dependencies (go mod download)"
  "$GO" get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" 2>&1 | tail -n 5
  local ldflags="$LDFLAGS_BASE"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  log "kube-apiserver: compiling (the long part: 4 to 6 minutes on 2 cores; -p $BUILD_JOBS)"
  compile kube-apiserver "$BIN_DIR/kube-apiserver.tmp" -ldflags "$ldflags" \
    k8s.io/kubernetes/cmd/kube-apiserver
  mv "$BIN_DIR/kube-apiserver.tmp" "$BIN_DIR/kube-apiserver"
  echo "$KUBE_VERSION" >"$BIN_DIR/kube-apiserver.version"
  log "kube-apiserver: built in $(($(date +%s) - t0))s -> $BIN_DIR/kube-apiserver"
}

build_etcd() {
  if stamp_ok etcd "$ETCD_VERSION"; then
    log "etcd $ETCD_VERSION already built: $BIN_DIR/etcd"
    return
  fi
  local t0 dir
  t0=$(date +%s)
  dir="$BUILD_DIR/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  cd "$dir"
  {
    echo "module aia-e2e/etcd-build"
    echo
    echo "go 1.23"
    echo
    echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  } >go.mod
  printf '//go:build tools\n\npackage main\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
  log "etcd: resolving go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  "$GO" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" 2>&1 | tail -n 5
  log "etcd: compiling"
  compile etcd "$BIN_DIR/etcd.tmp" -ldflags "$LDFLAGS_BASE" go.etcd.io/etcd/server/v3
  mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
  echo "$ETCD_VERSION" >"$BIN_DIR/etcd.version"
  log "etcd: built in $(($(date +%s) - t0))s -> $BIN_DIR/etcd"
}

build_actionlint() {
  if stamp_ok actionlint "$ACTIONLINT_VERSION"; then
    log "actionlint $ACTIONLINT_VERSION already built: $BIN_DIR/actionlint"
    return
  fi
  local t0 dir
  t0=$(date +%s)
  dir="$BUILD_DIR/actionlint-$ACTIONLINT_VERSION"
  mkdir -p "$dir"
  cd "$dir"
  {
    echo "module aia-e2e/actionlint-build"
    echo
    echo "go 1.23"
    echo
    echo "require github.com/rhysd/actionlint $ACTIONLINT_VERSION"
  } >go.mod
  printf '//go:build tools\n\npackage main\n\nimport _ "github.com/rhysd/actionlint/cmd/actionlint"\n' >tools.go
  log "actionlint: resolving github.com/rhysd/actionlint@$ACTIONLINT_VERSION"
  "$GO" get "github.com/rhysd/actionlint@$ACTIONLINT_VERSION" 2>&1 | tail -n 5
  log "actionlint: compiling"
  compile actionlint "$BIN_DIR/actionlint.tmp" \
    -ldflags "$LDFLAGS_BASE -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
    github.com/rhysd/actionlint/cmd/actionlint
  mv "$BIN_DIR/actionlint.tmp" "$BIN_DIR/actionlint"
  echo "$ACTIONLINT_VERSION" >"$BIN_DIR/actionlint.version"
  log "actionlint: built in $(($(date +%s) - t0))s -> $BIN_DIR/actionlint"
}

build_h2_load() {
  if stamp_ok h2_load "$H2_LOAD_VERSION"; then
    log "h2_load $H2_LOAD_VERSION already built: $BIN_DIR/h2_load"
    return
  fi
  local t0
  t0=$(date +%s)
  log "h2_load: compiling $H2_LOAD_SRC (Go standard library only)"
  (cd "$H2_LOAD_SRC" && GOWORK=off compile h2_load "$BIN_DIR/h2_load.tmp" -ldflags "$LDFLAGS_BASE" .)
  mv "$BIN_DIR/h2_load.tmp" "$BIN_DIR/h2_load"
  echo "$H2_LOAD_VERSION" >"$BIN_DIR/h2_load.version"
  log "h2_load: built in $(($(date +%s) - t0))s -> $BIN_DIR/h2_load"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(etcd kube-apiserver actionlint h2_load)
for target in "${targets[@]}"; do
  case "$target" in
    etcd) build_etcd; "$BIN_DIR/etcd" --version | sed -n 1p | sed 's/^/[kube-build] /' ;;
    kube-apiserver) build_kube_apiserver; "$BIN_DIR/kube-apiserver" --version | sed 's/^/[kube-build] /' ;;
    actionlint) build_actionlint; "$BIN_DIR/actionlint" -version | sed -n 1p | sed 's/^/[kube-build] actionlint /' ;;
    h2_load) build_h2_load ;;
    *)
      echo "build.sh: unknown binary '$target' (etcd, kube-apiserver, actionlint, h2_load)" >&2
      exit 2
      ;;
  esac
done
log "done in $(($(date +%s) - start_all))s; binaries in $BIN_DIR"
