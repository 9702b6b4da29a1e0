#!/usr/bin/env bash
# Checks the Debian package as Debian and an administrator meet it, with the real tools
# (`bash cmake/setup.sh package` builds it and runs this; CI does both in a bare Debian 12):
#   1. its contents and control data (dpkg-deb -c/-I): every file, its mode and owner,
#      Depends, conffiles, the maintainer scripts; nothing of the build, tests or benchmarks;
#   2. lintian, Debian's package checker: no error and no warning (an override would say why);
#   3. both man pages render without a warning (man -l; groff -ww, 80 columns);
#   4. installed with apt-get (so that Depends resolve): the _shido user and /var/lib/shido;
#      systemd-analyze verify accepts the installed unit;
#   5. the unit's ExecStart, taken from the installed unit, run as the unit's user, with its
#      umask and capabilities, with the installed config, a temporary directory standing in
#      for /var/lib/shido (in --data-dir and the outbox) and a free port: two people
#      register with the installed client (codes from the outbox), exchange a message, and
#      the server stops cleanly on SIGTERM; nothing of it reaches the log but events;
#   6. remove keeps the config, the data and the user; purge deletes exactly what README
#      says: the config and /var/lib/shido, keeping the user.
# Needs root (it installs and removes the package). Leaves the machine as it found it,
# except for the _shido user, which purge keeps by design.
#
#   check_package.sh PACKAGE.deb VERSION [--contents-only]   (--contents-only: 1 to 3)
set -euo pipefail

usage="usage: check_package.sh PACKAGE.deb VERSION [--contents-only]"
deb=$(realpath "${1:?$usage}")
version=${2:?$usage}
contents_only=0
case ${3:-} in
  "") ;;
  --contents-only) contents_only=1 ;;
  *) echo "$usage" >&2; exit 1 ;;
esac
[ -f "$deb" ] || { echo "check_package: no package at $deb" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/shido-package.XXXXXX")
chmod 0755 "$work"  # the unit's user reaches its state directory in it
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf -- "$work"
}
trap cleanup EXIT
failures=0
fail() {
  echo "check_package: FAIL: $*" >&2
  failures=$((failures + 1))
}
ok() { echo "check_package: ok: $*"; }
# expect_same <what> <expected> <actual>: one line per difference when they differ.
expect_same() {
  if [ "$2" == "$3" ]; then
    ok "$1"
  else
    fail "$1 differs (- expected, + found):"
    diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | grep '^[<>]' | sed 's/^</-/; s/^>/+/' >&2 || true
  fi
}

# --- 1. Contents and control data ------------------------------------------------------------
dpkg-deb -f "$deb" Package Version Architecture Installed-Size Maintainer | sed 's/^/  control: /'
field() { dpkg-deb -f "$deb" "$1"; }
expect_same "Package" shido "$(field Package)"
expect_same "Version (project(VERSION))" "$version" "$(field Version)"
expect_same "Architecture" "$(dpkg --print-architecture)" "$(field Architecture)"
expect_same "Section" net "$(field Section)"
# Depends: adduser for postinst, and the shared libraries the programs link, which
# dpkg-shlibdeps found (with versions): the C and C++ runtimes and OpenSSL 3.
depends=$(field Depends)
depends_names=$(sed 's/ ([^)]*)//g; s/, /\n/g' <<<"$depends")
for package in adduser libc6 libstdc++6 libgcc-s1 libssl3; do
  grep -qxF "$package" <<<"$depends_names" || fail "Depends lacks $package: $depends"
done
grep -Eq 'libssl3 \(>= 3' <<<"$depends" || fail "Depends has no versioned libssl3: $depends"
ok "Depends: $depends"

mkdir "$work/control"
dpkg-deb -e "$deb" "$work/control"
expect_same "conffiles" /etc/shido/shido-server.conf "$(cat "$work/control/conffiles")"
expect_same "control files and modes" "$(printf '%s\n' "644 conffiles" "644 control" "644 md5sums" \
  "755 postinst" "755 postrm" "755 prerm")" "$(cd "$work/control" && stat -c '%a %n' -- * | sort -k2)"
for script in postinst prerm postrm; do
  sh -n "$work/control/$script" || fail "$script is not valid sh"
done

# Every file and directory, with its mode and owner: exactly these, nothing more.
expected_files="drwxr-xr-x root/root ./etc/
drwxr-xr-x root/root ./etc/shido/
-rw-r--r-- root/root ./etc/shido/shido-server.conf
drwxr-xr-x root/root ./usr/
drwxr-xr-x root/root ./usr/bin/
-rwxr-xr-x root/root ./usr/bin/shido-client
drwxr-xr-x root/root ./usr/lib/
drwxr-xr-x root/root ./usr/lib/systemd/
drwxr-xr-x root/root ./usr/lib/systemd/system/
-rw-r--r-- root/root ./usr/lib/systemd/system/shido-server.service
drwxr-xr-x root/root ./usr/sbin/
-rwxr-xr-x root/root ./usr/sbin/shido-server
drwxr-xr-x root/root ./usr/share/
drwxr-xr-x root/root ./usr/share/bash-completion/
drwxr-xr-x root/root ./usr/share/bash-completion/completions/
-rw-r--r-- root/root ./usr/share/bash-completion/completions/shido-client
-rw-r--r-- root/root ./usr/share/bash-completion/completions/shido-server
drwxr-xr-x root/root ./usr/share/doc/
drwxr-xr-x root/root ./usr/share/doc/shido/
-rw-r--r-- root/root ./usr/share/doc/shido/BENCHMARKS.md
-rw-r--r-- root/root ./usr/share/doc/shido/FUZZING.md
-rw-r--r-- root/root ./usr/share/doc/shido/PROTOCOL.md
-rw-r--r-- root/root ./usr/share/doc/shido/README.md
-rw-r--r-- root/root ./usr/share/doc/shido/STORAGE.md
-rw-r--r-- root/root ./usr/share/doc/shido/changelog.gz
-rw-r--r-- root/root ./usr/share/doc/shido/copyright
drwxr-xr-x root/root ./usr/share/man/
drwxr-xr-x root/root ./usr/share/man/man1/
-rw-r--r-- root/root ./usr/share/man/man1/shido-client.1.gz
drwxr-xr-x root/root ./usr/share/man/man8/
-rw-r--r-- root/root ./usr/share/man/man8/shido-server.8.gz"
expect_same "files, modes and owners (dpkg-deb -c)" "$(sort -k3 <<<"$expected_files")" \
  "$(dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }' | sort -k3)"

mkdir "$work/tree"
dpkg-deb -x "$deb" "$work/tree"
# The shipped config names every option of the shipped server, each with its default (the
# outbox and data-dir lines excepted: the package's own choices).
help=$("$work/tree/usr/sbin/shido-server" --help)
conf="$work/tree/etc/shido/shido-server.conf"
# An option's first column in --help: "--name", or "--name TYPE[...][=DEFAULT]" (CLI11), up to
# the two spaces before its description.
mapfile -t options < <(grep -E '^  --[a-z]' <<<"$help" | sed -E 's/^  --//; s/ {2,}.*$//' |
  grep -vE '^(help|config|version)( |$)')
failures_before=$failures
[ ${#options[@]} -ge 30 ] || fail "only ${#options[@]} options found in shido-server --help"
for option in "${options[@]}"; do
  name=${option%% *}
  default=""
  [[ $option == *=* ]] && default=${option##*=}
  case $name in
    outbox) grep -qx 'outbox = /var/lib/shido/outbox' "$conf" || fail "the config does not set outbox = /var/lib/shido/outbox" ;;
    data-dir) grep -qx '# data-dir = /var/lib/shido' "$conf" || fail "the config does not show data-dir = /var/lib/shido" ;;
    code-command) grep -qx '# code-command =' "$conf" || fail "the config does not show code-command" ;;
    proxy-from | server-key) grep -qx "# $name =" "$conf" || fail "the config does not show $name" ;;
    *)
      [[ $option == *" "* ]] || default=false  # a flag
      grep -qx "# $name = $default" "$conf" || fail "the config lacks '# $name = $default' (shido-server --help: --$option)"
      ;;
  esac
done
[ "$failures" -eq "$failures_before" ] &&
  ok "the config lists all ${#options[@]} options of shido-server --help with their defaults"
# And the server takes it with every default line in force (all but code-command, which
# excludes outbox): a misspelt name or a wrong value would stop it here.
sed -E 's/^# ([a-z0-9-]+ = .+)$/\1/' "$conf" >"$work/all-defaults.conf"
"$work/tree/usr/sbin/shido-server" --config "$work/all-defaults.conf" --data-dir "$work/defaults-data" \
  --port 0 >"$work/defaults.out" 2>&1 &
defaults_pid=$!
for _ in $(seq 100); do
  if grep -q 'listening on' "$work/defaults.out" || ! kill -0 "$defaults_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if grep -q 'listening on 127.0.0.1:' "$work/defaults.out"; then
  kill -TERM "$defaults_pid"
  wait "$defaults_pid" && ok "the server starts with every default of the config in force" ||
    fail "the server with every default in force did not stop cleanly"
else
  kill -KILL "$defaults_pid" 2>/dev/null || true
  fail "the server refused the config with every default in force: $(cat "$work/defaults.out")"
fi

# --- 2. lintian ------------------------------------------------------------------------------
# Errors and warnings fail (the package needs no override); the notes (I:) are shown.
if lintian --fail-on error,warning --display-info --show-overrides "$deb" >"$work/lintian.log" 2>&1; then
  ok "lintian: no error, no warning"
else
  fail "lintian:"
fi
sed 's/^/  lintian: /' "$work/lintian.log"

# --- 3. The man pages --------------------------------------------------------------------------
for page in usr/share/man/man8/shido-server.8.gz usr/share/man/man1/shido-client.1.gz; do
  warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$work/tree/$page" 2>&1 >/dev/null)
  if [ -z "$warnings" ]; then ok "man -l $(basename "$page"): no warning"; else fail "man -l $page: $warnings"; fi
  LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$work/tree/$page" 2>/dev/null | grep -q . || fail "man -l $page rendered nothing"
done
# The sources too, with all of groff's warnings on and no line wider than 80 columns.
source_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if bash "$source_root/tests/install/check_man_render.sh" "$source_root/docs/man/shido-server.8" \
  "$source_root/docs/man/shido-client.1"; then
  ok "groff -ww and 80 columns: both pages"
else
  fail "check_man_render.sh"
fi

if [ "$contents_only" -eq 1 ]; then
  if [ "$failures" -ne 0 ]; then
    echo "check_package: $failures check(s) failed" >&2
    exit 1
  fi
  echo "check_package: the package's contents passed every check (not installed: --contents-only)"
  exit 0
fi

# --- 4. Install ------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || { echo "check_package: installing needs root" >&2; exit 1; }
if getent passwd _shido >/dev/null; then had_user=1; else had_user=0; fi
[ ! -e /var/lib/shido ] && [ ! -e /etc/shido ] ||
  { echo "check_package: /var/lib/shido or /etc/shido exists already: not on a machine with Shido installed" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; echo "check_package: apt-get install failed" >&2; exit 1; }
ok "installed with apt-get"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd _shido) || { echo "check_package: no _shido user" >&2; exit 1; }
[ "$uid" -lt 1000 ] || fail "_shido is not a system user (uid $uid)"
expect_same "_shido's home and shell" "/var/lib/shido /usr/sbin/nologin" "$home $shell"
expect_same "/var/lib/shido" "700 _shido:_shido" "$(stat -c '%a %U:%G' /var/lib/shido)"
unit=/usr/lib/systemd/system/shido-server.service
if systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 && ! grep -q . "$work/verify.log"; then
  ok "systemd-analyze verify $unit: no complaint"
else
  fail "systemd-analyze verify $unit:"
  cat "$work/verify.log" >&2
fi

# --- 5. The unit's ExecStart, as the unit's user -------------------------------------------------
unit_value() { sed -n "s/^$1=//p" "$unit"; }
exec_start=$(unit_value ExecStart)
user=$(unit_value User)
group=$(unit_value Group)
expect_same "the unit's user and group" "_shido _shido" "$user $group"
expect_same "the unit's state directory" "shido 0700" "$(unit_value StateDirectory) $(unit_value StateDirectoryMode)"
grep -q -- '--data-dir /var/lib/shido' <<<"$exec_start" || fail "ExecStart does not use --data-dir /var/lib/shido: $exec_start"
read -r -a command <<<"$exec_start"
state="$work/state"  # stands in for /var/lib/shido, as systemd's StateDirectory= makes it
install -d -m 0700 -o "$user" -g "$group" "$state"
# /var/lib/shido becomes the state directory wherever the unit or the config names it: in
# ExecStart (--data-dir), and in the config's outbox line, given again on the command line
# (which wins over the file); the installed config is read for everything else.
command=("${command[@]//\/var\/lib\/shido/$state}")
outbox=$(sed -n 's/^outbox = //p' /etc/shido/shido-server.conf)
[[ $outbox == /var/lib/shido/* ]] || fail "the installed config's outbox is not in /var/lib/shido: '$outbox'"
mkfifo "$work/server.out"
# setpriv drops to the unit's user with no capability (CapabilityBoundingSet= empty), no new
# privileges, and the unit's umask. --port 0: a free port, which the server prints.
(
  umask "$(unit_value UMask)"
  exec setpriv --reuid "$user" --regid "$group" --clear-groups --no-new-privs \
    --bounding-set -all --inh-caps -all -- "${command[@]}" --outbox "$state/${outbox#/var/lib/shido/}" \
    --port 0 >"$work/server.out" 2>"$work/server.log"
) &
server_pid=$!
exec 3<"$work/server.out"
listening=""
read -r -t 60 listening <&3 || true
if ! [[ $listening =~ ^shido-server\ listening\ on\ 127\.0\.0\.1:([0-9]+)\ server\ key\ fingerprint\ (.*)$ ]]; then
  cat "$work/server.log" >&2
  echo "check_package: the installed server did not start: '$listening'" >&2
  exit 1
fi
port=${BASH_REMATCH[1]}
fingerprint=${BASH_REMATCH[2]}
ok "ExecStart runs as $user: $listening"
expect_same "the server's user" "$user" "$(stat -c %U "/proc/$server_pid")"

client=(/usr/bin/shido-client --host 127.0.0.1 --port "$port")
register() {  # register <home> <phone> <email>: the code comes from the package's outbox
  "${client[@]}" --home "$1" --phone "$2" register --email "$3" --code-file "$state/outbox/$2.code" \
    --server-fingerprint "$fingerprint" >"$work/register.log" 2>&1 ||
    { cat "$work/register.log" >&2; fail "registering $2 with the installed client"; return 0; }
  ok "registered $2 with the code from the outbox"
}
register "$work/alice" +15550000001 alice@example.com
register "$work/bob" +15550000002 bob@example.com
"${client[@]}" --home "$work/alice" send --to +15550000002 "hello from the package" >/dev/null ||
  fail "sending with the installed client"
fetched=$("${client[@]}" --home "$work/bob" fetch --json || true)
grep -q '"body":"hello from the package"' <<<"$fetched" && ok "the message arrived" ||
  fail "bob fetched '$fetched'"
# The outbox files go once their code is used; no code ever reached the log.
[ -z "$(ls -A "$state/outbox")" ] || fail "codes left in the outbox: $(ls "$state/outbox")"
grep -Eq 'code [0-9]{6}' "$work/server.log" && fail "a code reached the log: $(grep -E 'code [0-9]{6}' "$work/server.log")"

kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
expect_same "exit status after SIGTERM" 0 "$status"
grep -q 'stopping on SIGTERM' "$work/server.log" || fail "no 'stopping on SIGTERM' in the log"
# Everything the server wrote is in its state directory, owned by it and private.
[ -z "$(ls -A /var/lib/shido)" ] || fail "the server wrote to the real /var/lib/shido: $(ls /var/lib/shido)"
[ -f "$state/server_key.pem" ] || fail "no server key in the state directory"
loose=$(find "$state" \( ! -user "$user" -o -perm /077 \) -printf '%M %u %p\n')
[ -z "$loose" ] && ok "the state directory is $user's alone (umask $(unit_value UMask))" ||
  fail "files in the state directory others may read, or not $user's: $loose"

# --- 6. Remove, then purge ---------------------------------------------------------------------
failures_before=$failures
cp -a "$state/." /var/lib/shido/  # the accounts, as a running service would have left them
echo "port = 5001" >>/etc/shido/shido-server.conf  # an administrator's change
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q shido >"$work/remove.log" 2>&1 ||
  { cat "$work/remove.log" >&2; fail "apt-get remove failed"; }
[ ! -e /usr/sbin/shido-server ] && [ ! -e /usr/bin/shido-client ] && [ ! -e "$unit" ] ||
  fail "remove left the programs or the unit"
grep -qx 'port = 5001' /etc/shido/shido-server.conf || fail "remove did not keep the changed config"
[ -f /var/lib/shido/server_key.pem ] && [ -n "$(ls /var/lib/shido/journal-* 2>/dev/null)" ] ||
  fail "remove did not keep the data: $(ls -A /var/lib/shido 2>&1)"
getent passwd _shido >/dev/null || fail "remove deleted the _shido user"
expect_same "status after remove" "deinstall ok config-files" "$(dpkg-query -W -f='${Status}' shido)"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -q shido >"$work/purge.log" 2>&1 ||
  { cat "$work/purge.log" >&2; fail "apt-get purge failed"; }
[ ! -e /var/lib/shido ] || fail "purge left /var/lib/shido: $(ls -A /var/lib/shido)"
[ ! -e /etc/shido ] || fail "purge left /etc/shido: $(ls -A /etc/shido)"
getent passwd _shido >/dev/null || fail "purge deleted the _shido user (README says it stays)"
case $(dpkg-query -W -f='${Status}' shido 2>/dev/null || true) in
  "" | *not-installed) ;;
  *) fail "dpkg still has shido after purge: $(dpkg-query -W -f='${Status}' shido)" ;;
esac
[ "$failures" -eq "$failures_before" ] &&
  ok "remove kept the config, the data and the user; purge deleted /etc/shido and /var/lib/shido, kept the user"
[ "$had_user" -eq 1 ] || echo "check_package: the _shido user made by this install stays, as after any purge"

if [ "$failures" -ne 0 ]; then
  echo "check_package: $failures check(s) failed" >&2
  exit 1
fi
echo "check_package: every check passed"
