#!/bin/bash
# Keeps a man page honest about its program's options, from text alone (no man-db needed):
#   check_man_options.sh server|client <page> <shido-server> <shido-client>
# Fails when
# - an option of `--help` (for the client also of each command's `help <command>`) is not an
#   item of the page's OPTIONS (for a command's own options: of its subsection of COMMANDS),
#   or an item there is not an option of that help;
# - the client's commands (--help's "Subcommands") and the subsections of COMMANDS differ;
# - an item's default ("Default <value>"), range ("from <low> to <high>") or set of values
#   (a tag "--store disk|memory") is not the one --help shows;
# - the page names anywhere an option that neither program has.
set -u
kind=$1 page=$2 server=$3 client=$4
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

[[ -r $page ]] || { echo "FAIL: cannot read $page" >&2; exit 1; }
# A fixed home: the client's --help shows the default --home made from $HOME.
fake_home=/nonexistent/shido-man-test-home
# says <text> <phrase>: whether <text> holds <phrase> as whole words ("Default 30" is not in
# "Default 300", nor "Default 127.0.0" in "Default 127.0.0.1.").
says() {
  awk -v text="$1" -v phrase="$2" 'BEGIN {
    while ((at = index(text, phrase)) > 0) {
      text = substr(text, at + length(phrase))
      if (text == "" || text ~ /^[.]?([^A-Za-z0-9_\/-]|$)/) exit 0
    }
    exit 1
  }'
}
help_of() {  # help_of <program> [args...]: the help text, or a failure
  local text
  if ! text=$(env -u SHIDO_HOME HOME="$fake_home" "$@"); then
    fail "'$*' failed"
    return 1
  fi
  printf '%s\n' "$text"
}

# The options as help shows them: "<where>\t<option>\t<default>\t<low>\t<high>\t<set>", where
# <where> is "-" for the program's own help and the command's name for a command's.
: > "$work/help"
if [[ $kind == server ]]; then
  help_of "$server" --help > "$work/server.help" || exit 1
  awk -f "$here/parse_help.awk" "$work/server.help" |
    awk -F'\t' -v OFS='\t' '$1 == "option" { print "-", $3, $4, $5, $6, $7 }' >> "$work/help"
else
  help_of "$client" --help > "$work/client.help" || exit 1
  awk -f "$here/parse_help.awk" "$work/client.help" > "$work/client.parsed"
  awk -F'\t' -v OFS='\t' '$1 == "option" { print "-", $3, $4, $5, $6, $7 }' \
    "$work/client.parsed" >> "$work/help"
  awk -F'\t' '$1 == "command" { print $2 }' "$work/client.parsed" | sort > "$work/commands.help"
  [[ -s $work/commands.help ]] || fail "no commands found in '$client --help'"
  while read -r command; do
    help_of "$client" help "$command" > "$work/help.$command" || continue
    # The common options are the program's (checked above); --help is documented once.
    awk -f "$here/parse_help.awk" "$work/help.$command" |
      awk -F'\t' -v OFS='\t' -v where="$command" \
        '$1 == "option" && $2 != "Common options" && $3 != "--help" { print where, $3, $4, $5, $6, $7 }' \
        >> "$work/help"
    # Every common option of the command's help must be one of the program's options.
    while read -r option; do
      awk -F'\t' -v option="$option" '$1 == "-" && $2 == option { found = 1 } END { exit !found }' \
        "$work/help" || fail "'$option' of 'help $command' is not an option of '$client --help'"
    done < <(awk -f "$here/parse_help.awk" "$work/help.$command" |
             awk -F'\t' '$1 == "option" && $2 == "Common options" { print $3 }')
  done < "$work/commands.help"
fi
[[ -s $work/help ]] || fail "no options found in the help of the $kind"

# What the page documents.
awk -f "$here/parse_man.awk" "$page" > "$work/page.parsed"
awk -F'\t' -v OFS='\t' '$1 == "tag" { print $2, $3 }' "$work/page.parsed" | sort -u > "$work/items.page"
cut -f1,2 "$work/help" | sort -u > "$work/items.help"
while IFS=$'\t' read -r where option; do
  [[ $where == - ]] && where_text="OPTIONS" || where_text="COMMANDS, $where"
  fail "$option is in the help but not an item of $page ($where_text)"
done < <(comm -23 "$work/items.help" "$work/items.page")
while IFS=$'\t' read -r where option; do
  [[ $where == - ]] && where_text="OPTIONS" || where_text="COMMANDS, $where"
  fail "$page documents $option ($where_text), which the help does not have there"
done < <(comm -13 "$work/items.help" "$work/items.page")

if [[ $kind == client ]]; then
  awk -F'\t' '$1 == "command" { print $2 }' "$work/page.parsed" | sort > "$work/commands.page"
  while read -r command; do fail "command '$command' has no subsection in COMMANDS of $page"; done \
    < <(comm -23 "$work/commands.help" "$work/commands.page")
  while read -r command; do fail "$page documents command '$command', which the client does not have"; done \
    < <(comm -13 "$work/commands.help" "$work/commands.page")
fi

# Defaults, ranges and sets of values, item by item.
# (Fields split at \037, not at tabs: read would merge the tabs around an empty field.)
while IFS=$'\037' read -r where option default low high members; do
  item=$(awk -F'\t' -v where="$where" -v option="$option" \
    '$1 == "tag" && $2 == where && $3 == option { print $4 "\t" $5; exit }' "$work/page.parsed")
  [[ -n $item ]] || continue  # reported above
  tag=${item%%$'\t'*} text=${item#*$'\t'}
  # A default made from the environment ($HOME) is described in words, not checked.
  if [[ -n $default && $default != "$fake_home"* ]]; then
    says "$text" "Default $default" ||
      fail "$option: the help's default is $default, the page does not say 'Default $default'"
  fi
  if [[ -n $low ]]; then
    says "$text" "from $low to $high" ||
      fail "$option: the help's range is $low to $high, the page does not say 'from $low to $high'"
  fi
  if [[ -n $members ]]; then
    shown=$(sed -E 's/^[^ ]+ //; s/ .*//' <<< "$tag" | tr '|' '\n' | sort | paste -sd, -)
    wanted=$(tr ',' '\n' <<< "$members" | sort | paste -sd, -)
    [[ $shown == "$wanted" ]] ||
      fail "$option: the help's values are {$members}, the page's tag '$tag' shows {$shown}"
  fi
done < <(tr '\t' '\037' < "$work/help")

# Every option the page names, anywhere, must exist in one of the two programs.
{
  env -u SHIDO_HOME HOME="$fake_home" "$server" --help
  env -u SHIDO_HOME HOME="$fake_home" "$client" --help
  for command in $(env -u SHIDO_HOME HOME="$fake_home" "$client" --help |
                   awk -f "$here/parse_help.awk" | awk -F'\t' '$1 == "command" { print $2 }'); do
    env -u SHIDO_HOME HOME="$fake_home" "$client" help "$command"
  done
} 2>/dev/null | awk -f "$here/parse_help.awk" | awk -F'\t' '$1 == "option" { print $3 }' |
  sort -u > "$work/known"
awk -F'\t' '$1 == "mention" { print $2 }' "$work/page.parsed" | sort -u > "$work/mentioned"
while read -r option; do
  fail "$page names $option, which neither shido-server nor shido-client has"
done < <(comm -23 "$work/mentioned" "$work/known")

items=$(wc -l < "$work/items.page")
if ((failures > 0)); then
  echo "$page: $failures problem(s)" >&2
  exit 1
fi
echo "$page: $items items match the help of the $kind"
