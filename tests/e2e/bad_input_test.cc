// Bad input gets a clear error naming file and line, exit code 2, and loses
// nothing; a runaway expression fails its step cleanly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "support/process.h"

namespace ergon {
namespace {

using testing::bin;
using testing::RunResult;
using testing::TempDir;

class BadInputTest : public ::testing::Test {
 protected:
  BadInputTest() {
    workspace_ = dir_.file("ws");
    testing::copy_tree(testing::source_path("examples/cloud-cost"), workspace_);
    std::filesystem::remove_all(workspace_ + "/.ergon");
  }

  RunResult ergon(std::vector<std::string> args) const {
    args.insert(args.begin(), {bin("ergon"), "-w", workspace_});
    testing::RunOptions options;
    options.env = {{"ACME_CLOUD_TOKEN", "unused-token"}, {"ACME_CLOUD_URL", "http://127.0.0.1:9"}};
    return testing::run(args, options);
  }

  // Replaces the first occurrence of `from` in a workspace file.
  void edit(const std::string& file, const std::string& from, const std::string& to) const {
    std::string path = workspace_ + "/" + file;
    std::string text = testing::read_file(path);
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from << " not in " << file;
    text.replace(at, from.size(), to);
    testing::write_file(path, text);
  }

  // 1-based line of the first occurrence of `needle` in a workspace file.
  int line_of(const std::string& file, const std::string& needle) const {
    std::string text = testing::read_file(workspace_ + "/" + file);
    auto at = text.find(needle);
    EXPECT_NE(at, std::string::npos);
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
  }

  void expect_usage_error(const RunResult& r, const std::string& where) const {
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(where), std::string::npos) << "expected '" << where << "' in: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(workspace_ + "/.ergon/ergon.db") &&
                 r.out.find("Session") != std::string::npos)
        << "no session may start on bad input";
  }

  TempDir dir_;
  std::string workspace_;
};

TEST_F(BadInputTest, MalformedYamlNamesFileAndLine) {
  edit("policy.yaml", "  - forbid: \"cloud.*\"", "  - forbid: [\"cloud.*\"");
  int line = line_of("policy.yaml", "forbid: [");
  RunResult r = ergon({"plan", "cut cloud spend by 10%"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::regex where("policy\\.yaml:(\\d+)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, where)) << r.err;
  EXPECT_NEAR(std::stoi(m[1].str()), line, 1) << r.err;
}

TEST_F(BadInputTest, UnknownActionNamesSkillFileLineAndSuggests) {
  edit("skills/reduce-cloud-spend.yaml", "do: cloud.stop_instance", "do: cloud.stop_instanse");
  int line = line_of("skills/reduce-cloud-spend.yaml", "cloud.stop_instanse");
  RunResult r = ergon({"plan", "cut cloud spend by 10%"});
  expect_usage_error(r, "reduce-cloud-spend.yaml:");
  EXPECT_NE(r.err.find("cloud.stop_instanse"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cloud.stop_instance"), std::string::npos)
      << "suggests the right name: " << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("reduce-cloud-spend\\.yaml:(\\d+)")));
  EXPECT_NEAR(std::stoi(m[1].str()), line, 1) << r.err;
}

TEST_F(BadInputTest, LuaSyntaxErrorNamesFileAndLine) {
  edit("skills/reduce-cloud-spend.yaml",
       "expect: result.projected_monthly <=", "expect: result.projected_monthly <= <=");
  RunResult r = ergon({"run", "--yes", "cut cloud spend by 10%"});
  expect_usage_error(r, "reduce-cloud-spend.yaml:");
}

TEST_F(BadInputTest, UnknownEffectNamesField) {
  edit("ergon.yaml", "effect: irreversible", "effect: permanent");
  RunResult r = ergon({"sessions"});
  expect_usage_error(r, "ergon.yaml:");
  EXPECT_NE(r.err.find("effect"), std::string::npos) << r.err;
}

TEST_F(BadInputTest, MissingWorkspace) {
  RunResult r = testing::run({bin("ergon"), "-w", dir_.file("nothing-here"), "sessions"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("ergon.yaml"), std::string::npos) << r.err;
}

TEST_F(BadInputTest, BadArguments) {
  EXPECT_EQ(ergon({"run", "--yes", "--slot", "no-equals-sign", "cut spend by 10%"}).exit_code, 2);
  EXPECT_EQ(ergon({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(ergon({"show", "s-doesnotexist"}).exit_code, 2);
  RunResult r = ergon({"plan", "bake a chocolate cake"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("reduce-cloud-spend"), std::string::npos)
      << "names the closest skill: " << r.err;
}

// A goal the planner is unsure of is a question, not a run: nothing starts,
// the exit code says a person must answer, and --skill is that answer.
TEST_F(BadInputTest, AnUncertainGoalAsksDidYouMean) {
  RunResult r = ergon({"run", "--yes", "cloud stuff"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("Did you mean \"reduce-cloud-spend\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--skill reduce-cloud-spend"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("Session"), std::string::npos) << r.out;
  RunResult chosen = ergon({"plan", "cloud stuff", "--skill", "reduce-cloud-spend"});
  EXPECT_EQ(chosen.exit_code, 0) << chosen.err;
  EXPECT_NE(chosen.out.find("skill: reduce-cloud-spend"), std::string::npos) << chosen.out;
  RunResult unknown = ergon({"plan", "cloud stuff", "--skill", "reduce-cloud-spnd"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("reduce-cloud-spend"), std::string::npos) << unknown.err;
}

TEST_F(BadInputTest, MalformedPlanFileNamesFileAndPointer) {
  std::string path = dir_.file("plan.json");
  testing::write_file(
      path,
      R"({"goal": "x", "steps": [{"id": "a", "do": "cloud.get_bill", "on_fail": "explode"}]})");
  RunResult r = ergon({"run", "--yes", "--plan", path});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("plan.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("on_fail"), std::string::npos) << r.err;
  testing::write_file(path, "{not json");
  EXPECT_EQ(ergon({"run", "--yes", "--plan", path}).exit_code, 2);
}

TEST_F(BadInputTest, InfiniteLoopIsStoppedByTheBudget) {
  std::string path = dir_.file("plan.json");
  testing::write_file(
      path, R"({"goal": "spin", "steps": [{"id": "spin", "compute": "while true do end"}]})");
  RunResult r = ergon({"run", "--yes", "--plan", path});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("instruction budget"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step 'spin'"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ergon
