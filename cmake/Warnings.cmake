# shido_warnings: the warning set every target of ours links. Third-party headers come
# in as SYSTEM includes, so -Werror judges only our own code.
add_library(shido_warnings INTERFACE)
target_compile_options(shido_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Werror
  -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused
  -Woverloaded-virtual
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
  # g++ 12 at -O3 reports std::string concatenation as overlapping memcpy (GCC PR 105329,
  # a known false positive); a warning that is wrong about the standard library is no help.
  # (GCC's alone: clang, which builds the fuzzers, has no such warning and rejects the flag.)
  $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
# The hardening of optimised builds (cmake/Hardening.cmake) comes with the warnings.
target_link_libraries(shido_warnings INTERFACE shido_hardening)
