// Vector files as parameter lists: one GoogleTest test per vector case (TEST_P +
// INSTANTIATE_TEST_SUITE_P), named after the file and the case, so that a failing case
// neither hides the cases after it nor goes unnamed. A suite over a file looks like this:
//
//   const test::VectorSet& vectors() {
//     static const test::VectorSet set = test::load_wycheproof("wycheproof/x_test.json");
//     return set;
//   }
//   using XWycheproofTest = ::testing::TestWithParam<test::VectorCase>;
//   TEST_P(XWycheproofTest, Case) { const Json& tc = *GetParam().test; ... }
//   INSTANTIATE_TEST_SUITE_P(Wycheproof, XWycheproofTest, ::testing::ValuesIn(vectors().cases),
//                            test::case_name);
//   TEST(XTest, WycheproofCaseCount) {
//     ASSERT_TRUE(test::loaded(vectors()));  // the file's problem, said plainly
//     ... EXPECT_EQ(test::registered_tests("Wycheproof/XWycheproofTest"), ...) ...
//   }
//
// GoogleTest builds the parameter lists inside InitGoogleTest (also for --gtest_list_tests,
// which is how ctest discovers the tests), so the loaders never throw: a missing or broken
// file gives fewer or no cases and an `error`, and the suite's count test fails with it. An
// empty list also makes GoogleTest add a failing GoogleTestVerification test for the suite;
// that second failure is left on purpose (no GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shido/protocol/json.h"

namespace shido::test {

// One vector case, the parameter of a per-case test. `group` and `test` point into the file's
// parsed JSON, which they keep alive: GoogleTest copies every parameter, and every test
// process (ctest runs one per case) builds them all, so a case must be cheap to copy.
struct VectorCase {
  std::string name;  // the test's name: letters, digits and '_', unique within its file
  int tc_id = 0;     // the case's tcId (0 when the file has none)
  std::shared_ptr<const Json> group;  // Wycheproof: the case's test group; otherwise null
  std::shared_ptr<const Json> test;   // the case itself
};

// A pointer to `node`, a part of `file`, that keeps the whole of `file` alive.
std::shared_ptr<const Json> part_of(const std::shared_ptr<const Json>& file, const Json& node);

// GoogleTest prints a parameter in --gtest_list_tests and in failure messages: the name is
// enough (the JSON would be long, and may hold characters ctest's discovery would mangle).
void PrintTo(const VectorCase& vector_case, std::ostream* os);

// The name generator for INSTANTIATE_TEST_SUITE_P: the case's name.
std::string case_name(const ::testing::TestParamInfo<VectorCase>& info);

// The cases of one file under tests/vectors/.
struct VectorSet {
  std::string path;                  // relative to tests/vectors/
  std::shared_ptr<const Json> file;  // the whole file; null when it did not load
  std::vector<VectorCase> cases;
  std::string error;  // why the file, or some of its cases, did not load; empty when all did
};

// Fills `out` with the cases of a parsed file (see part_of); may throw (on a field that is
// missing or of the wrong type), which load_cases turns into an error.
using CaseCollector =
    std::function<void(const std::shared_ptr<const Json>& file, std::vector<VectorCase>& out)>;

// Reads a vector file and collects its cases; never throws. Cases whose name is not a valid
// GoogleTest name, or repeats an earlier one, are left out and reported in `error` (GoogleTest
// would otherwise abort the whole binary).
VectorSet load_cases(std::string_view path, const CaseCollector& collect);

// A Wycheproof file: every test of every testGroups[] entry, named "<file stem>_tcid<N>",
// e.g. "ecdh_secp256r1_test_tcid7".
VectorSet load_wycheproof(std::string_view path);

// A file with a top-level "tests" array whose entries have a "tcId", named
// "<prefix>_case<tcId>", e.g. "rfc5869_case1".
VectorSet load_numbered(std::string_view path, std::string_view prefix);

// Success when the file loaded completely; otherwise says which file and why.
::testing::AssertionResult loaded(const VectorSet& set);

// How many tests GoogleTest registered in the test suite `suite` (for an instantiated
// TEST_P suite: "<instantiation prefix>/<suite>"), whatever --gtest_filter selects to run.
std::size_t registered_tests(std::string_view suite);

// The Wycheproof "result" of every case, counted.
struct ResultCounts {
  std::size_t valid = 0;
  std::size_t invalid = 0;
  std::size_t acceptable = 0;
  std::size_t other = 0;  // none of the three: the per-case tests fail these
};
ResultCounts count_results(const VectorSet& set);

// "330 valid, 52 invalid, 230 acceptable", as the [ KAT ] summary lines say it.
std::string describe(const ResultCounts& counts);

}  // namespace shido::test
