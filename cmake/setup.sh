#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs what is missing, builds, and
# then starts the server or runs the tests. Safe to run again and again.
#
#   bash cmake/setup.sh server [shido-server options]   build (Release) and start the server
#   bash cmake/setup.sh test [--sanitize address|thread] build and run the whole test suite
#        [--threaded-only]                               only the server, client and bench tests
#   bash cmake/setup.sh build [--sanitize address|thread] only build
#   bash cmake/setup.sh lint                             check format (clang-format) and clang-tidy
#   bash cmake/setup.sh fuzz [--seconds 20] [--target T] build the fuzzers (clang), run each for 20 s
#   bash cmake/setup.sh package [--build-only]           build the .deb, check it, install and purge it
#   bash cmake/setup.sh packages server|test|lint|fuzz|package  list the Debian packages each needs
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# What each command needs on a bare Debian 12 (debootstrap --variant=minbase), where
# nothing else can be assumed; .ci/bare-debian proves these lists on every CI run.
# The server needs a compiler, CMake and Ninja, the libraries it links, and pkg-config,
# through which CMake finds hiredis (the Redis store's client library).
server_packages=(g++ cmake ninja-build libssl-dev nlohmann-json3-dev libcli11-dev pkg-config libhiredis-dev)
# The tests add GoogleTest, GoogleMock (a package of its own on Debian 12, not part of
# libgtest-dev), Google Benchmark for the micro-benchmarks, redis-server, which the Redis
# store's tests start on a port of their own (its system service is never used), and
# python3, with which the benchmark scripts pick free ports and sum up their runs (a ctest
# runs tests/bench/compare_redis.sh once, so that it keeps working).
test_packages=("${server_packages[@]}" googletest libgtest-dev libgmock-dev libbenchmark-dev redis-server python3)
# The checks every change must pass (CI runs them): Debian 12's clang-format and clang-tidy.
lint_packages=("${test_packages[@]}" clang-format clang-tidy)
# The fuzzers (docs/FUZZING.md): Debian 12's clang, its runtimes (libFuzzer, ASan, UBSan),
# and llvm-symbolizer, which puts function names and lines in a crash's stack.
fuzz_packages=("${server_packages[@]}" clang libclang-rt-14-dev llvm-14)
# The Debian package (tests/package/check_package.sh): dpkg-shlibdeps (dpkg-dev) and file
# for CPack's Depends, lintian, man (man-db, with groff-base) to render the pages, and
# systemd for systemd-analyze verify (nothing of it runs).
package_packages=("${server_packages[@]}" dpkg-dev file lintian man-db groff-base systemd)

usage() {
  local status=${1:-0}
  if [ "$status" -eq 0 ]; then
    sed -n '2,14s/^#   /  /p' "${BASH_SOURCE[0]}"
  else
    sed -n '2,14s/^#   /  /p' "${BASH_SOURCE[0]}" >&2
  fi
  exit "$status"
}

# install_missing <package>...: apt-get installs those not installed yet.
install_missing() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "setup: installing ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
      echo "setup: installing packages needs root: run this as root, or install sudo" >&2
      exit 1
    }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

cmake_extra=()  # more -D options for the next build (the package's install prefix)
# build <build-dir> <sanitizer> <tests ON|OFF> <target>...: Release, or Debug (at -O1) under
# a sanitizer; the micro-benchmarks only in the plain build, where their numbers mean
# something. Without tests, nothing of GoogleTest or Google Benchmark is looked for.
build() {
  local dir=$1 sanitize=$2 tests=$3
  shift 3
  local type=Release bench=$tests
  [ -n "$sanitize" ] && { type=Debug; bench=OFF; }
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" -DSHIDO_SANITIZE="$sanitize" \
    -DSHIDO_BUILD_TESTS="$tests" -DSHIDO_BUILD_BENCH="$bench" "${cmake_extra[@]}" >/dev/null
  cmake --build "$dir" --parallel "$(nproc)" --target "$@"
}

# lint: every C++ file of ours formatted as .clang-format says, and clean under .clang-tidy
# (.clang-tidy and tests/.clang-tidy say what is checked where, and what that costs).
lint() {
  local files=()
  mapfile -t files < <(cd "$root" && find include src server client tests \( -name '*.cc' -o -name '*.h' \) | sort)
  if ! (cd "$root" && clang-format --dry-run --Werror "${files[@]}"); then
    echo "setup: these files are not formatted: run clang-format -i on them" >&2
    return 1
  fi
  echo "setup: ${#files[@]} files formatted as .clang-format says" >&2
  # clang-tidy reads the compile commands; GCC's precompiled headers mean nothing to clang.
  local dir="$root/build/lint"
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHIDO_BUILD_TESTS=ON \
    -DSHIDO_BUILD_BENCH=ON -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON >/dev/null
  # Every translation unit of ours, one clang-tidy per core. Those the static analyser reads
  # (src, server, client: up to half a minute each, against ~8 s for a test) go first, so
  # that none of them starts last and keeps one core busy alone at the end. Each unit's
  # report goes to a file of its own; clang-tidy.log puts them together in that order.
  local units=() all=() logs="$dir/clang-tidy" unit status=0
  mapfile -t all < <(sed -n 's/^  "file": "\(.*\)",\{0,1\}$/\1/p' "$dir/compile_commands.json" |
    grep -E "^$root/(include|src|server|client|tests)/" | sort -u)
  mapfile -t units < <(printf '%s\n' "${all[@]}" | grep -v "^$root/tests/"
    printf '%s\n' "${all[@]}" | grep "^$root/tests/")
  [ ${#units[@]} -gt 0 ] || { echo "setup: no translation unit in $dir/compile_commands.json" >&2; return 1; }
  rm -rf "$logs" && mkdir -p "$logs"
  printf '%s\n' "${units[@]}" | TIDY_DIR=$dir TIDY_LOGS=$logs xargs -d '\n' -n 1 -P "$(nproc)" sh -c \
    'clang-tidy -p "$TIDY_DIR" -quiet "$1" >"$TIDY_LOGS/$(echo "$1" | tr / _).log" 2>&1' sh ||
    status=$?
  for unit in "${units[@]}"; do
    echo "clang-tidy $unit"
    cat "$logs/$(echo "$unit" | tr / _).log" 2>/dev/null || echo "error: clang-tidy did not run"
  done >"$dir/clang-tidy.log"
  if [ "$status" -ne 0 ]; then
    grep -E 'error:|warning:' "$dir/clang-tidy.log" | awk '!seen[$0]++' >&2 || cat "$dir/clang-tidy.log" >&2
    echo "setup: clang-tidy found the problems above (whole log: $dir/clang-tidy.log)" >&2
    return 1
  fi
  echo "setup: clang-tidy found nothing in ${#units[@]} files" >&2
}

# fuzz <seconds> <target>...: builds the libFuzzer targets (tests/fuzz) with clang, ASan and
# UBSan in build/fuzz, and runs each for <seconds>, two at a time, on a copy of its seed
# corpus in a temporary directory: the transcript's real frames, the checked-in seeds and
# every input that once broke it (tests/fuzz/regressions). Prints each one's executions;
# fails when one crashes or breaks a check, keeping the input in build/fuzz/crashes.
fuzz() {
  local seconds=$1
  shift
  local dir="$root/build/fuzz"
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
    -DSHIDO_FUZZ=ON -DSHIDO_BUILD_TESTS=OFF >/dev/null
  cmake --build "$dir" --parallel "$(nproc)" --target shido_fuzz
  local work crashes="$dir/crashes"
  work=$(mktemp -d "${TMPDIR:-/tmp}/shido-fuzz.XXXXXX")
  trap "rm -rf -- '$work'" EXIT  # (expanded now: work is local)
  mkdir -p "$crashes"
  "$dir/tests/fuzz/tools/protocol_transcript" --frames "$work/transcript" >/dev/null
  local target
  for target in "$@"; do
    mkdir -p "$work/$target"
    case $target in
      frame_reader|session) cp "$work"/transcript/*.frames "$work/$target/" ;;
      messages) cp "$work"/transcript/*.json "$work/$target/" ;;
    esac
    local seeds
    for seeds in "$root/tests/fuzz/corpus/$target" "$root/tests/fuzz/regressions/$target"; do
      if [ -d "$seeds" ]; then cp -R "$seeds/." "$work/$target/"; fi
    done
  done
  if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
    export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}
  fi
  echo "setup: fuzzing ${*} for ${seconds} s each, two at a time" >&2
  for target in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
    (
      status=0
      "$dir/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=30 -print_final_stats=1 \
        -artifact_prefix="$crashes/$target-" "$work/$target" >"$work/$target.log" 2>&1 || status=$?
      echo "$status" >"$work/$target.status"
    ) &
  done
  wait
  local failed=0
  for target in "$@"; do
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log")
    if [ "$(cat "$work/$target.status")" -eq 0 ]; then
      printf 'setup: fuzz_%-13s %10s runs in %s s, clean\n' "$target" "${runs:-?}" "$seconds" >&2
    else
      # The report: from the first error line on (the stack, the input in hex and base64).
      sed -n '/fuzz check failed\|==ERROR\|ERROR: libFuzzer/,$p' "$work/$target.log" | head -n 80 >&2
      printf 'setup: fuzz_%-13s FAILED after %s runs (the input is in %s)\n' "$target" \
        "${runs:-?}" "$crashes" >&2
      failed=1
    fi
  done
  return "$failed"
}

fuzz_targets=(frame_reader messages key_import envelope_open session proxy_header)

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
fuzz_seconds=20
if [ "$command" = fuzz ]; then
  while [ $# -gt 0 ]; do
    case $1 in
      --seconds) fuzz_seconds=${2:?--seconds takes a number}; shift 2 ;;
      --target) fuzz_targets=("${2:?--target takes one of: ${fuzz_targets[*]}}"); shift 2 ;;
      -h|--help) usage ;;
      *) echo "setup: unknown option $1" >&2; usage 1 ;;
    esac
  done
  [[ $fuzz_seconds =~ ^[1-9][0-9]*$ ]] || { echo "setup: --seconds takes a whole number" >&2; exit 1; }
  [ -f "$root/tests/fuzz/${fuzz_targets[0]}_fuzz.cc" ] ||
    { echo "setup: no fuzz target '${fuzz_targets[0]}' (tests/fuzz/*_fuzz.cc)" >&2; exit 1; }
fi
dir="$root/build/${sanitize:-release}"

case $command in
  server)
    install_missing "${server_packages[@]}"
    build "$dir" "" OFF shido-server shido-client
    exec "$dir/server/shido-server" "$@"
    ;;
  build)
    install_missing "${test_packages[@]}"
    build "$dir" "$sanitize" ON all
    ;;
  test)
    install_missing "${test_packages[@]}"
    ctest_filter=()
    if [ -n "$threaded_only" ]; then
      build "$dir" "$sanitize" ON shido_threaded_tests
      ctest_filter=(-L threaded)
    else
      build "$dir" "$sanitize" ON all
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
  lint)
    install_missing "${lint_packages[@]}"
    lint
    ;;
  fuzz)
    install_missing "${fuzz_packages[@]}"
    fuzz "$fuzz_seconds" "${fuzz_targets[@]}"
    ;;
  package)
    # --build-only: the package and the checks of its contents, without installing it (for a
    # machine where Shido is installed: the full check installs and purges it).
    check_args=()
    case ${1:-} in
      "") ;;
      --build-only) check_args=(--contents-only) ;;
      -h|--help) usage ;;
      *) echo "setup: unknown option $1" >&2; usage 1 ;;
    esac
    [ "$(id -u)" -eq 0 ] || { echo "setup: package installs what it needs, and the package itself: run it as root" >&2; exit 1; }
    install_missing "${package_packages[@]}"
    # The README's Release build directory, with the package's prefix (/usr, so that the
    # config goes to /etc): the compile flags are the same, so nothing is compiled again.
    cmake_extra=(-DCMAKE_INSTALL_PREFIX=/usr)
    build "$dir" "" OFF shido-server shido-client shido_gzipped_docs
    rm -f "$dir"/package/shido_*.deb
    (cd "$dir" && cpack -G DEB >/dev/null)
    deb=("$dir"/package/shido_*.deb)
    [ -f "${deb[0]}" ] || { echo "setup: cpack made no package in $dir/package" >&2; exit 1; }
    echo "setup: built ${deb[0]}" >&2
    version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$dir/CMakeCache.txt")
    bash "$root/tests/package/check_package.sh" "${deb[0]}" "$version" "${check_args[@]}"
    ;;
  packages)
    case ${1:-} in
      server) printf '%s\n' "${server_packages[@]}" ;;
      test) printf '%s\n' "${test_packages[@]}" ;;
      lint) printf '%s\n' "${lint_packages[@]}" ;;
      fuzz) printf '%s\n' "${fuzz_packages[@]}" ;;
      package) printf '%s\n' "${package_packages[@]}" ;;
      *) usage 1 ;;
    esac
    ;;
  -h|--help|help) usage ;;
  *) [ -n "$command" ] && echo "setup: unknown command '$command'" >&2; usage 1 ;;
esac
