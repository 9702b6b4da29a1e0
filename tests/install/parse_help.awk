# Reads the --help text of shido-server or shido-client (CLI11's format) and prints one line
# per option or subcommand, fields separated by tabs:
#   option  <group>  <--long-name>  <default or "">  <range low or "">  <range high or "">  <set or "">
#   command <name>
# where <group> is the heading the option stands under ("Options", "Common options",
# "Testing", ...) and <set> the allowed values joined by commas ({disk,memory}).
# Plain POSIX awk (Debian's minimal mawk runs it): no gawk extensions.
BEGIN { OFS = "\t" }

/^[A-Za-z][A-Za-z ]*:$/ {
  group = substr($0, 1, length($0) - 1)
  next
}

# An option's line: two spaces, then its names ("-h,--help", "--port"), then its type and
# default ("UINT=5000", "INT:INT in [1 - 604800]=3600", "TEXT:{disk,memory}=disk"), then
# (after two spaces or on the next line) its description.
/^  -/ {
  line = substr($0, 3)
  cut = index(line, "  ")
  spec = cut ? substr(line, 1, cut - 1) : line
  space = index(spec, " ")
  names = space ? substr(spec, 1, space - 1) : spec
  rest = space ? substr(spec, space + 1) : ""
  default_value = ""; low = ""; high = ""; members = ""
  # Only what follows the type is a default ("TEXT Excludes: --code-command" has none).
  if (match(rest, /^[A-Z:]+(:INT in \[[0-9]+ - [0-9]+\]|:UINT in \[[0-9]+ - [0-9]+\]|:\{[^}]*\})?=/)) {
    default_value = substr(rest, RLENGTH + 1)
  }
  if (match(rest, /\[[0-9]+ - [0-9]+\]/)) {
    range = substr(rest, RSTART + 1, RLENGTH - 2)
    split(range, bounds, " - ")
    low = bounds[1]; high = bounds[2]
  }
  if (match(rest, /\{[^}]*\}/)) members = substr(rest, RSTART + 1, RLENGTH - 2)
  count = split(names, name_list, ",")
  for (i = 1; i <= count; i++) {
    if (substr(name_list[i], 1, 2) == "--")
      print "option", group, name_list[i], default_value, low, high, members
  }
  next
}

# A subcommand's line, under "Subcommands:": two spaces and its name.
group == "Subcommands" && /^  [a-z]/ {
  print "command", $1
}
