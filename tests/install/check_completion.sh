#!/bin/bash
# Checks a bash completion script against its program's help, without bash-completion:
#   check_completion.sh server <shido-server.bash-completion> <shido-server>
#   check_completion.sh client <shido-client.bash-completion> <shido-client>
# The script is sourced; each case sets COMP_WORDS and COMP_CWORD as bash would, calls the
# completion function and compares COMPREPLY (sorted) with what is expected. Fails when
# - after the program, or after a client command, "--" does not offer exactly the long
#   options of that help (`--help`, `help <command>`);
# - an option with a closed set of values ({disk,memory}) does not offer exactly that set;
# - a command of `shido-client --help` is not offered (or one that is not there is);
# - a directory, file or account is not completed where one is expected.
set -u
kind=$1 script=$2 program=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 cases=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

complete() { :; }  # the script registers itself with `complete`; not needed here
# shellcheck source=/dev/null
source "$script" || { echo "FAIL: cannot source $script" >&2; exit 1; }
function_name=_shido_$kind
declare -F "$function_name" > /dev/null || { echo "FAIL: $script defines no $function_name" >&2; exit 1; }

# expect "<expected words, space-separated>" <word>...: completing the last word (the cursor
# is at its end) offers exactly the expected words.
expect() {
  local expected=$1
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  "$function_name" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
    "${COMP_WORDS[COMP_CWORD - 1]}" 2> "$work/stderr"
  local got wanted
  got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | paste -sd' ' -)
  wanted=$(tr ' ' '\n' <<< "$expected" | sed '/^$/d' | sort | paste -sd' ' -)
  cases=$((cases + 1))
  if [[ $got != "$wanted" ]]; then
    local missing extra
    missing=$(comm -23 <(tr ' ' '\n' <<< "$wanted") <(tr ' ' '\n' <<< "$got") | paste -sd' ' -)
    extra=$(comm -13 <(tr ' ' '\n' <<< "$wanted") <(tr ' ' '\n' <<< "$got") | paste -sd' ' -)
    fail "completing '$*|': missing [$missing], not expected [$extra]"
  fi
  if [[ -s $work/stderr ]]; then
    fail "completing '$*|' wrote to stderr: $(cat "$work/stderr")"
  fi
}

# long_options [args...]: the long options of `program args... ` help, one line.
long_options() {
  env -u SHIDO_HOME HOME=/nonexistent "$program" "$@" | awk -f "$here/parse_help.awk" |
    awk -F'\t' '$1 == "option" { print $3 }' | sort -u | paste -sd' ' -
}
# closed_sets [args...]: "<option> <value,value,...>" for each option with a set of values.
closed_sets() {
  env -u SHIDO_HOME HOME=/nonexistent "$program" "$@" | awk -f "$here/parse_help.awk" |
    awk -F'\t' '$1 == "option" && $7 != "" { print $3, $7 }'
}

mkdir -p "$work/dir/sub.d" "$work/dir/data"
touch "$work/dir/shido.conf" "$work/dir/sub.code"

if [[ $kind == server ]]; then
  options=$(long_options --help)
  [[ -n $options ]] || fail "no options in '$program --help'"
  expect "$options" shido-server --
  expect "$options" shido-server ""
  expect "$options" shido-server --port 5000 --
  expect "--status-interval --store" shido-server --st
  expect "" shido-server --port ""
  while read -r option values; do
    expect "${values//,/ }" shido-server "$option" ""
    expect "${values//,/ }" shido-server --salvage "$option" ""
    expect "${values//,/ }" shido-server "$option" "=" ""       # --store=|, "=" a word break
    expect "${values//,/ }" shido-server "$option" "="
    expect "$(tr ',' '\n' <<< "$values" | sed "s/^/$option=/" | paste -sd' ' -)" \
      shido-server "$option="  # "=" not a word break
  done < <(closed_sets --help)
  [[ -n $(closed_sets --help) ]] || fail "no option with a set of values in '$program --help'"
  expect "everysec" shido-server --fsync e
  expect "--store=memory" shido-server --store=m  # "=" not a word break
  expect "memory" shido-server --store = m  # "=" a word break
  expect "$work/dir/data $work/dir/sub.d" shido-server --data-dir "$work/dir/"
  expect "$work/dir/data $work/dir/sub.d" shido-server --outbox "$work/dir/"
  expect "$work/dir/shido.conf" shido-server --config "$work/dir/sh"
else
  options=$(long_options --help)
  commands=$(env -u SHIDO_HOME HOME=/nonexistent "$program" --help | awk -f "$here/parse_help.awk" |
             awk -F'\t' '$1 == "command" { print $2 }' | sort | paste -sd' ' -)
  [[ -n $commands ]] || fail "no commands in '$program --help'"
  expect "$commands" shido-client ""
  expect "$commands" shido-client --plaintext ""
  expect "$commands" shido-client --home /tmp/x --port 5000 ""
  expect "$commands" shido-client --home=/tmp/x ""
  expect "$commands" shido-client --home = /tmp/x ""
  expect "$commands" shido-client help ""
  expect "" shido-client help send ""
  expect "register" shido-client reg
  expect "$options" shido-client --
  expect "$options" shido-client --home /tmp/x --
  for command in $commands; do
    expect "$(long_options help "$command")" shido-client "$command" --
    expect "$(long_options help "$command")" shido-client --phone +972501111111 "$command" --
    while read -r option values; do
      expect "${values//,/ }" shido-client "$command" "$option" ""
    done < <(closed_sets help "$command")
  done
  # --phone offers the accounts of the home directory, wherever it comes from.
  mkdir -p "$work/home/+972501111111" "$work/home/+972502222222" "$work/home/notes"
  expect "+972501111111 +972502222222" shido-client --home "$work/home" --phone ""
  expect "+972502222222" shido-client --home "$work/home" send --phone +9725022
  expect "+972501111111 +972502222222" shido-client fetch --home="$work/home" --phone ""
  SHIDO_HOME=$work/home expect "+972501111111 +972502222222" shido-client --phone ""
  saved_home=$HOME saved_shido_home=${SHIDO_HOME-unset}
  HOME=$work/nowhere
  unset SHIDO_HOME
  expect "" shido-client --phone ""
  HOME=$work/user
  mkdir -p "$work/user/.shido/+972503333333"
  expect "+972503333333" shido-client --phone ""
  HOME=$saved_home
  [[ $saved_shido_home == unset ]] || export SHIDO_HOME=$saved_shido_home
  expect "$work/dir/data $work/dir/sub.d" shido-client --home "$work/dir/"
  expect "$work/dir/sub.code $work/dir/sub.d" shido-client register --code-file "$work/dir/sub"
  expect "" shido-client send --to ""
  expect "" shido-client send --to +972501111111 ""
fi

if ((failures > 0)); then
  echo "$script: $failures of $cases cases failed" >&2
  exit 1
fi
echo "$script: $cases cases pass"
