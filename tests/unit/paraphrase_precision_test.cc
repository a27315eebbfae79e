// The skill planner on goals it was not taught: tests/data/paraphrases/.
#include <gtest/gtest.h>

#include <iostream>

#include "ergon/clock.h"
#include "ergon/planner.h"
#include "support/paraphrase_set.h"

namespace ergon {
namespace {

class ParaphrasePrecision : public ::testing::Test {
 protected:
  void SetUp() override {
    auto set =
        testing::load_paraphrase_set(std::string(ERGON_SOURCE_DIR) + "/tests/data/paraphrases");
    ASSERT_TRUE(set.has_value()) << set.error().message;
    set_ = std::move(*set);
  }
  testing::ParaphraseSet set_;
};

TEST_F(ParaphrasePrecision, SetIsLargeEnough) {
  EXPECT_GE(set_.skills.size(), 10u);
  EXPECT_GE(set_.paraphrases.size(), 80u);
  EXPECT_GE(set_.unrelated.size(), 20u);
  for (const testing::Paraphrase& p : set_.paraphrases) {
    bool known = false;
    for (const Skill& skill : set_.skills) known = known || skill.name == p.skill;
    EXPECT_TRUE(known) << p.goal << ": unknown skill " << p.skill;
    // Held out: no paraphrase is word for word an example.
    for (const Skill& skill : set_.skills) {
      for (const std::string& example : skill.examples) EXPECT_NE(example, p.goal);
    }
  }
}

TEST_F(ParaphrasePrecision, ChoosesTheRightSkillOrAsks) {
  FakeClock clock(set_.now_ms);
  SkillPlanner planner(set_.skills, {}, &clock);
  testing::ParaphraseReport report = testing::score_paraphrases(planner, set_);
  std::cout << "paraphrases: " << report.paraphrases << ", planned " << report.planned << " (right "
            << report.planned_right << "), asked " << report.asked << " (right first "
            << report.asked_right << "), no skill " << report.not_found << "\n"
            << "precision " << report.precision() << ", recall " << report.recall()
            << ", slot accuracy " << report.slot_accuracy() << " (" << report.slots_right << "/"
            << report.slots << "), Brier " << report.brier << "\n"
            << "unrelated: " << report.unrelated << ", planned " << report.unrelated_planned
            << ", asked " << report.unrelated_asked << "\n";
  for (const std::string& line : report.mistakes) std::cout << "  " << line << "\n";

  EXPECT_EQ(report.unrelated_planned, 0u) << "an unrelated goal ran a skill";
  EXPECT_GE(report.precision(), 0.95);
  EXPECT_GE(report.recall(), 0.80);
  EXPECT_GE(report.slot_accuracy(), 0.90);
}

}  // namespace
}  // namespace ergon
