# shido_hardening: the hardening Debian builds its packages with (dpkg-buildflags), for the
# optimised builds that become shido-server and shido-client: bounds-checked libc calls
# where the size is known (_FORTIFY_SOURCE, which needs optimisation), stack canaries,
# control-flow protection, and a relocation table made read-only before main (full RELRO).
# Not under the sanitizers or the fuzzers, which instrument the same things their own way.
# shido_warnings links it, so every target of ours has it.
add_library(shido_hardening INTERFACE)
if(SHIDO_SANITIZE STREQUAL "" AND NOT SHIDO_FUZZ AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(_shido_optimised "$<CONFIG:Release,RelWithDebInfo,MinSizeRel>")
  target_compile_definitions(shido_hardening INTERFACE "$<${_shido_optimised}:_FORTIFY_SOURCE=2>")
  target_compile_options(shido_hardening INTERFACE
    "$<${_shido_optimised}:-fstack-protector-strong;-fcf-protection>")
  target_link_options(shido_hardening INTERFACE "$<${_shido_optimised}:LINKER:-z,relro,-z,now>")
endif()
