# shido_add_test(<dir/name_test.cc> [LIBS ...]): one GoogleTest executable per test file,
# registered with ctest as one test named after the file (e.g. crypto.hkdf_test).
# Test vectors are found through SHIDO_TEST_VECTORS_DIR, inside the project.
find_package(GTest REQUIRED)

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
  add_test(NAME "${group}.${name}" COMMAND ${target} --gtest_brief=0)
  set_tests_properties("${group}.${name}" PROPERTIES TIMEOUT 300)
endfunction()
