#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs what is missing, builds, and
# then starts the server or runs the tests. Safe to run again and again.
#
#   bash cmake/setup.sh server [shido-server options]   build (Release) and start the server
#   bash cmake/setup.sh test [--sanitize address|thread] build and run the whole test suite
#        [--threaded-only]                               only the server, client and bench tests
#   bash cmake/setup.sh build [--sanitize address|thread] only build
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
packages=(g++ cmake ninja-build pkg-config libssl-dev nlohmann-json3-dev libcli11-dev
          googletest libgtest-dev libbenchmark-dev)

usage() {
  sed -n '4,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

install_missing() {
  local missing=()
  for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "setup: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# build <build-dir> [sanitizer] [target]: Release, or Debug (at -O1) under a sanitizer;
# the micro-benchmarks only in the plain build, where their numbers mean something.
build() {
  local dir=$1 sanitize=${2:-} target=${3:-all}
  local type=Release bench=ON
  [ -n "$sanitize" ] && { type=Debug; bench=OFF; }
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" -DSHIDO_SANITIZE="$sanitize" \
    -DSHIDO_BUILD_BENCH="$bench" >/dev/null
  cmake --build "$dir" --parallel "$(nproc)" --target "$target"
}

command=${1:-}
[ $# -gt 0 ] && shift
sanitize=""
threaded_only=""
if [ "$command" = test ] || [ "$command" = build ]; then
  while [ $# -gt 0 ]; do
    case $1 in
      --sanitize) sanitize=${2:?--sanitize takes address or thread}; shift 2 ;;
      --threaded-only) threaded_only=1; shift ;;
      -h|--help) usage ;;
      *) echo "setup: unknown option $1" >&2; usage 1 ;;
    esac
  done
fi
dir="$root/build/${sanitize:-release}"

case $command in
  server)
    install_missing
    build "$dir"
    exec "$dir/server/shido-server" "$@"
    ;;
  build)
    install_missing
    build "$dir" "$sanitize"
    ;;
  test)
    install_missing
    ctest_filter=()
    if [ -n "$threaded_only" ]; then
      build "$dir" "$sanitize" shido_threaded_tests
      ctest_filter=(-L threaded)
    else
      build "$dir" "$sanitize"
    fi
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    status=0
    ctest --test-dir "$dir" --output-on-failure --parallel "$(nproc)" "${ctest_filter[@]}" || status=$?
    # The known-answer tests say how many vector cases they checked; keep that in the log.
    grep -h '\[ KAT' "$dir/Testing/Temporary/LastTest.log" 2>/dev/null | sort -u || true
    exit $status
    ;;
  -h|--help|help) usage ;;
  *) usage 1 ;;
esac
