#!/usr/bin/env bash
# ctest package.version: both programs' --version name the version that project(VERSION)
# in CMakeLists.txt gives, the one place it is written.
#   check_version.sh VERSION SHIDO-SERVER SHIDO-CLIENT
set -euo pipefail
version=${1:?the project version}
server=${2:?the shido-server binary}
client=${3:?the shido-client binary}
status=0
for program in "$server" "$client"; do
  name=$(basename "$program")
  out=$("$program" --version) || { echo "FAIL: $name --version exited $?" >&2; exit 1; }
  # The whole first word after the name, so that 0.1.0 does not pass for 10.1.0 or 0.1.01.
  if [ "$(awk 'NR == 1 { print $1 " " $2 }' <<<"$out")" = "$name $version" ]; then
    echo "ok: $out"
  else
    echo "FAIL: '$name --version' printed '$out', not '$name $version ...'" >&2
    status=1
  fi
done
exit "$status"
