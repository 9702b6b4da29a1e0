# shido_add_test(<dir/name_test.cc> [LIBS ...]): one GoogleTest executable per test file,
# registered with ctest as one test named after the file (e.g. crypto.hkdf_test).
# Test vectors are found through SHIDO_TEST_VECTORS_DIR, inside the project.
# Each test carries its group as a ctest label; the server and client tests, which run
# threads and real processes, also carry "threaded", and the target shido_threaded_tests
# builds just them (the ThreadSanitizer run in CI: the library's unit tests are
# single-threaded, so TSan has nothing to find there).
find_package(GTest REQUIRED)
add_custom_target(shido_threaded_tests)

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
  add_test(NAME "${group}.${name}" COMMAND ${target} --gtest_brief=0)
  set(labels "${group}")
  if(group STREQUAL "server" OR group STREQUAL "client")
    list(APPEND labels threaded)
    add_dependencies(shido_threaded_tests ${target})
  endif()
  set_tests_properties("${group}.${name}" PROPERTIES TIMEOUT 300 LABELS "${labels}")
endfunction()
