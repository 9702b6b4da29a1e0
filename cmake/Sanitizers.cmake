# shido_sanitizers: -DSHIDO_SANITIZE=address gives ASan+UBSan, =thread gives TSan.
# Every target of ours links it, so the whole program is instrumented the same way.
add_library(shido_sanitizers INTERFACE)
if(SHIDO_SANITIZE STREQUAL "address")
  set(_shido_san_flags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
elseif(SHIDO_SANITIZE STREQUAL "thread")
  set(_shido_san_flags -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT SHIDO_SANITIZE STREQUAL "")
  message(FATAL_ERROR "SHIDO_SANITIZE must be empty, 'address' or 'thread', not '${SHIDO_SANITIZE}'")
endif()
if(_shido_san_flags)
  # -O1: fast enough for the suite, and free of the -O2 flow-analysis warnings that g++ 12
  # raises inside the standard library once the sanitizers instrument it.
  target_compile_options(shido_sanitizers INTERFACE ${_shido_san_flags} -O1)
  target_link_options(shido_sanitizers INTERFACE ${_shido_san_flags})
endif()
