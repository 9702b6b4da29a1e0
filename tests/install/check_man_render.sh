#!/bin/bash
# check_man_render.sh <page>...: each page formats without a single warning, with groff's
# warnings all on (-ww) and as `man --warnings` shows it on an 80-column terminal. Needs
# groff and man-db (`bash cmake/setup.sh package` installs them and runs this).
set -u
for tool in groff man; do
  command -v "$tool" > /dev/null || { echo "check_man_render: $tool is not installed (apt-get install groff-base man-db)" >&2; exit 1; }
done
failures=0
for page in "$@"; do
  out=$(groff -man -ww -z "$page" 2>&1)
  if [[ -n $out ]]; then
    echo "FAIL: groff -man -ww -z $page:" >&2
    echo "$out" >&2
    failures=$((failures + 1))
  fi
  out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 > /dev/null)
  if [[ -n $out ]]; then
    echo "FAIL: man --warnings -l $page:" >&2
    echo "$out" >&2
    failures=$((failures + 1))
  fi
  # Nothing wider than the terminal (an example too long for its indent).
  wide=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$page" 2> /dev/null | LC_ALL=C.UTF-8 grep -n '.\{81,\}')
  if [[ -n $wide ]]; then
    echo "FAIL: $page has lines wider than 80 columns:" >&2
    echo "$wide" >&2
    failures=$((failures + 1))
  fi
done
((failures == 0)) || exit 1
echo "$# pages render without warnings"
