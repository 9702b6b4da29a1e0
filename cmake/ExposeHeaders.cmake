# shido_expose_headers(<target> <name>): whatever links <target> includes its headers as
# "<name>/<header>.h", and sees nothing else of the source tree. The include directory is
# a staging directory in the build tree holding one link, <name> -> this source directory,
# so the server's code cannot include the client's headers by accident, nor the other way.
function(shido_expose_headers target name)
  set(staging "${CMAKE_CURRENT_BINARY_DIR}/exposed")
  file(MAKE_DIRECTORY "${staging}")
  file(CREATE_LINK "${CMAKE_CURRENT_SOURCE_DIR}" "${staging}/${name}" SYMBOLIC)
  target_include_directories(${target} PUBLIC "${staging}")
endfunction()
