# Reads a man page written with man(7) macros and prints, fields separated by tabs:
#   tag <where> <--long-name> <the item's tag as text> <the item's paragraph as text>
#       for each long option in an item's tag (.TP and the line after it) in OPTIONS
#       (<where> "-") or in a subsection of COMMANDS (<where> the subsection's name)
#   command <name>       for each subsection (.SS) of COMMANDS
#   mention <--long-name> for every long option named anywhere in the page
# "As text" means the roff made plain: font escapes dropped, \- as -, the arguments of
# .B, .BR, .BI (and the like) joined as they are shown. Plain POSIX awk (mawk runs it).
BEGIN { OFS = "\t" }

# The words of a macro line's arguments, quotes honoured.
function arguments(text, words,    count, i, c, word, quoted, started) {
  count = 0; word = ""; quoted = 0; started = 0
  for (i = 1; i <= length(text); i++) {
    c = substr(text, i, 1)
    if (c == "\"") { quoted = !quoted; started = 1; continue }
    if (c == " " && !quoted) {
      if (started) { words[++count] = word; word = ""; started = 0 }
      continue
    }
    word = word c; started = 1
  }
  if (started) words[++count] = word
  return count
}

function escapes(text) {
  gsub(/\\f[BIRP]/, "", text)
  gsub(/\\-/, "-", text)
  gsub(/\\~/, " ", text)
  gsub(/\\c/, "", text)
  gsub(/\\&/, "", text)
  gsub(/\\%/, "", text)
  gsub(/\\\|/, "", text)
  gsub(/\\\(aq/, "'", text)
  gsub(/\\\(ti/, "~", text)
  gsub(/\\\(ha/, "^", text)
  gsub(/\\\(lq|\\\(rq/, "\"", text)
  gsub(/\\e/, "\\", text)
  return text
}

# One input line as the text it shows ("" for a request that shows none).
function plain(line,    request, rest, words, count, i, joined, separator) {
  if (line !~ /^\./) return escapes(line)
  request = line; sub(/ .*/, "", request)
  rest = substr(line, length(request) + 2)
  if (request ~ /^\.(B|I|SM|SB)$/) separator = " "
  else if (request ~ /^\.(BR|RB|BI|IB|IR|RI)$/) separator = ""
  else return ""
  count = arguments(rest, words)
  joined = ""
  for (i = 1; i <= count; i++) joined = joined (i > 1 ? separator : "") words[i]
  return escapes(joined)
}

function flush(    names, count, i) {
  if (tag_text == "") return
  count = long_options(tag_text, names)
  for (i = 1; i <= count; i++) print "tag", where, names[i], tag_text, paragraph
  tag_text = ""; paragraph = ""
}

function long_options(text, names,    count) {
  count = 0
  while (match(text, /--[a-z][a-z0-9-]*/)) {
    names[++count] = substr(text, RSTART, RLENGTH)
    text = substr(text, RSTART + RLENGTH)
  }
  return count
}

/^\.\\"/ { next }   # a comment

{
  shown = plain($0)
  count = long_options(escapes($0), mentioned)
  for (i = 1; i <= count; i++) print "mention", mentioned[i]
}

/^\.SH/ {
  flush()
  section = $0; sub(/^\.SH */, "", section); gsub(/"/, "", section)
  where = section == "OPTIONS" ? "-" : ""
  next
}

/^\.SS/ {
  flush()
  if (section == "COMMANDS") {
    where = $2
    print "command", $2
  }
  next
}

/^\.TP/ { flush(); in_tag = 1; next }

in_tag {
  in_tag = 0
  if (where != "") tag_text = shown
  next
}

tag_text != "" {
  if (shown != "") paragraph = paragraph (paragraph == "" ? "" : " ") shown
}

END { flush() }
