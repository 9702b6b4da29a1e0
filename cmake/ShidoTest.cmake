# shido_add_test(<dir/name_test.cc> [LIBS ...]): one GoogleTest executable per test file.
# Test vectors are found through SHIDO_TEST_VECTORS_DIR, inside the project.
#
# How ctest sees the executable depends on its group (the directory's name):
# - crypto and protocol (the unit tests): one ctest test per GoogleTest test, so that one
#   failing case (say one Wycheproof vector) neither hides the others nor fails unnamed. The
#   tests are listed by gtest_discover_tests when ctest starts (DISCOVERY_MODE PRE_TEST: the
#   build never runs a test binary, which matters for the sanitizer builds), and named
#   "<group>.<name>.<Suite>.<Test>", e.g. crypto.hkdf_test.HkdfTest.LengthLimits or
#   crypto.ecdh_test.Wycheproof/EcdhWycheproofTest.Case/ecdh_secp256r1_test_tcid7, so that
#   `ctest -R 'crypto\.hkdf_test\.'` still picks one file.
# - server, client and bench: one ctest test per file (e.g. server.store_test), since their
#   fixtures start real server processes and threads.
# Each test carries its group as a ctest label (ctest -L crypto); the server and client
# tests also carry "threaded", and the target shido_threaded_tests builds just them (the
# ThreadSanitizer run in CI: the library's unit tests are single-threaded, so TSan has
# nothing to find there).
find_package(GTest REQUIRED)
include(GoogleTest)
add_custom_target(shido_threaded_tests)

# The vector files the unit tests read. The list of discovered tests is made again only when
# an executable is newer than it, so each unit test executable is relinked when a vector
# file changes: a case added to or removed from a file then shows up in ctest.
file(GLOB_RECURSE shido_test_vector_files CONFIGURE_DEPENDS
  "${PROJECT_SOURCE_DIR}/tests/vectors/*.json")

function(shido_add_test source)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  get_filename_component(name "${source}" NAME_WE)
  get_filename_component(dir "${source}" DIRECTORY)
  get_filename_component(group "${dir}" NAME)
  set(target "${group}_${name}")
  add_executable(${target} "${source}")
  target_link_libraries(${target} PRIVATE shido shido_test_support GTest::gtest GTest::gtest_main
    shido_warnings ${ARG_LIBS})
  target_compile_definitions(${target} PRIVATE
    SHIDO_TEST_VECTORS_DIR="${PROJECT_SOURCE_DIR}/tests/vectors")
  target_precompile_headers(${target} REUSE_FROM shido_test_support)
  # g++ 12 reports inlined libstdc++ code in the tests (vectors of test data, std::regex,
  # std::function) as overflowing or uninitialised at -O2/-O3: known false positives
  # (GCC PRs 105705, 106199, 107138). The library and programs keep these warnings.
  target_compile_options(${target} PRIVATE -Wno-stringop-overflow -Wno-array-bounds -Wno-maybe-uninitialized)
  set(labels "${group}")
  if(group STREQUAL "crypto" OR group STREQUAL "protocol")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${shido_test_vector_files})
    # NO_PRETTY_VALUES: the names come from the tests' own name generators (e.g. ..._tcid7);
    # CMake's "pretty" values would append the printed parameter to them. DISCOVERY_TIMEOUT:
    # listing loads the vector files, which takes a while under ASan on a busy machine.
    gtest_discover_tests(${target}
      TEST_PREFIX "${group}.${name}."
      EXTRA_ARGS --gtest_brief=0
      NO_PRETTY_VALUES
      DISCOVERY_MODE PRE_TEST
      DISCOVERY_TIMEOUT 60
      PROPERTIES TIMEOUT 300 LABELS "${labels}")
    return()
  endif()
  add_test(NAME "${group}.${name}" COMMAND ${target} --gtest_brief=0)
  if(group STREQUAL "server" OR group STREQUAL "client")
    list(APPEND labels threaded)
    add_dependencies(shido_threaded_tests ${target})
  endif()
  set_tests_properties("${group}.${name}" PROPERTIES TIMEOUT 300 LABELS "${labels}")
endfunction()
