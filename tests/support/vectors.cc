#include "support/vectors.h"

#include <exception>
#include <ostream>
#include <set>
#include <utility>

#include "support/test_support.h"

namespace shido::test {
namespace {

bool is_valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

void add_error(std::string& error, const std::string& text) {
  error += (error.empty() ? "" : "; ") + text;
}

// "wycheproof/ecdh_secp256r1_test.json" -> "ecdh_secp256r1_test".
std::string file_stem(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  const auto dot = path.find('.');
  if (dot != std::string_view::npos) path = path.substr(0, dot);
  return std::string(path);
}

}  // namespace

void PrintTo(const VectorCase& vector_case, std::ostream* os) { *os << vector_case.name; }

std::string case_name(const ::testing::TestParamInfo<VectorCase>& info) { return info.param.name; }

std::shared_ptr<const Json> part_of(const std::shared_ptr<const Json>& file, const Json& node) {
  return {file, &node};
}

VectorSet load_cases(std::string_view path, const CaseCollector& collect) {
  VectorSet set;
  set.path = std::string(path);
  std::vector<VectorCase> collected;
  try {
    set.file = std::make_shared<const Json>(load_vectors(path));
    collect(set.file, collected);
  } catch (const std::exception& e) {
    add_error(set.error, e.what());
  }
  // Cases collected before an error are kept: they still run, and the error still fails
  // the count test.
  std::set<std::string> names;
  for (VectorCase& vector_case : collected) {
    if (!vector_case.test) {
      add_error(set.error, "case \"" + vector_case.name + "\" has no JSON");
    } else if (!is_valid_name(vector_case.name)) {
      add_error(set.error, "case name \"" + vector_case.name + "\" is not a GoogleTest name");
    } else if (!names.insert(vector_case.name).second) {
      add_error(set.error, "case name \"" + vector_case.name + "\" appears twice");
    } else {
      set.cases.push_back(std::move(vector_case));
    }
  }
  return set;
}

VectorSet load_wycheproof(std::string_view path) {
  const std::string stem = file_stem(path);
  return load_cases(path,
                    [&stem](const std::shared_ptr<const Json>& file, std::vector<VectorCase>& out) {
                      for (const Json& group : file->at("testGroups")) {
                        for (const Json& test : group.at("tests")) {
                          const int id = test.at("tcId").get<int>();
                          out.push_back({stem + "_tcid" + std::to_string(id), id,
                                         part_of(file, group), part_of(file, test)});
                        }
                      }
                    });
}

VectorSet load_numbered(std::string_view path, std::string_view prefix) {
  const std::string name_prefix = std::string(prefix) + "_case";
  return load_cases(
      path, [&name_prefix](const std::shared_ptr<const Json>& file, std::vector<VectorCase>& out) {
        for (const Json& test : file->at("tests")) {
          const int id = test.at("tcId").get<int>();
          out.push_back({name_prefix + std::to_string(id), id, nullptr, part_of(file, test)});
        }
      });
}

::testing::AssertionResult loaded(const VectorSet& set) {
  if (set.error.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "test vectors " << set.path << " did not load: " << set.error;
}

std::size_t registered_tests(std::string_view suite) {
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  std::size_t count = 0;
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& test_suite = *unit.GetTestSuite(i);
    if (suite == test_suite.name())
      count += static_cast<std::size_t>(test_suite.total_test_count());
  }
  return count;
}

ResultCounts count_results(const VectorSet& set) {
  ResultCounts counts;
  for (const VectorCase& vector_case : set.cases) {
    const Json& test = *vector_case.test;
    const auto it = test.is_object() ? test.find("result") : test.end();
    const std::string result = it != test.end() && it->is_string() ? it->get<std::string>() : "";
    if (result == "valid") {
      ++counts.valid;
    } else if (result == "invalid") {
      ++counts.invalid;
    } else if (result == "acceptable") {
      ++counts.acceptable;
    } else {
      ++counts.other;
    }
  }
  return counts;
}

std::string describe(const ResultCounts& counts) {
  return std::to_string(counts.valid) + " valid, " + std::to_string(counts.invalid) + " invalid, " +
         std::to_string(counts.acceptable) + " acceptable";
}

}  // namespace shido::test
