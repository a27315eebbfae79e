// A plan that ran well, kept as a skill: the goal's slot values become the
// example's placeholders, and the skill plans the next such goal offline.
#include <gtest/gtest.h>

#include "ergon/learn.h"
#include "ergon/planner.h"
#include "ergon/workspace.h"

namespace ergon {
namespace {

Plan resize_plan() {
  Plan plan;
  plan.goal = "Resize the staging instance web-2 to small by 2027-03-04";
  plan.planner = "model";
  SlotSpec instance{"instance", SlotType::kString, true, "Which instance?", {}, {}, ""};
  SlotSpec size{"size", SlotType::kEnum, true, "", {"small", "medium", "large"}, {}, ""};
  SlotSpec date{"date", SlotType::kDate, true, "", {}, {}, ""};
  plan.slot_specs = {instance, size, date};
  plan.slots = {{"instance", "web-2"}, {"size", "small"}, {"date", "2027-03-04"}};
  Step step;
  step.id = "resize";
  step.action = "cloud.resize_instance";
  step.with = {{"name", "${slots.instance}"}, {"size", "${slots.size}"}};
  plan.steps = {step};
  return plan;
}

TEST(SkillFromPlanTest, SlotValuesInTheGoalBecomePlaceholders) {
  auto skill = skill_from_plan(resize_plan(), "resize-instance");
  ASSERT_TRUE(skill) << skill.error().message;
  EXPECT_EQ(skill->name, "resize-instance");
  EXPECT_EQ(skill->description, "Resize the staging instance web-2 to small by 2027-03-04");
  ASSERT_EQ(skill->examples.size(), 1u);
  EXPECT_EQ(skill->examples[0], "Resize the staging instance {instance} to {size} by {date}");
  ASSERT_EQ(skill->steps.size(), 1u);
  EXPECT_EQ(skill->steps[0].with["size"], "${slots.size}");
  EXPECT_EQ(skill->slots.size(), 3u);
}

TEST(SkillFromPlanTest, TypedValuesAreFoundByMeaning) {
  Plan plan = resize_plan();
  plan.goal = "Resize the staging instance web-2 to small by 3/4/2027";
  auto skill = skill_from_plan(plan, "resize-instance");
  ASSERT_TRUE(skill) << skill.error().message;
  EXPECT_EQ(skill->examples[0], "Resize the staging instance {instance} to {size} by {date}");
}

TEST(SkillFromPlanTest, ThePlannerUsesTheSavedSkillForANewGoal) {
  auto skill = skill_from_plan(resize_plan(), "resize-instance");
  ASSERT_TRUE(skill) << skill.error().message;
  SkillPlanner planner({*skill});
  auto plan =
      planner.plan("Resize the staging instance api-7 to large by 2027-05-01", Json::object());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->skill, "resize-instance");
  EXPECT_EQ(plan->slots["instance"], "api-7");
  EXPECT_EQ(plan->slots["size"], "large");
  EXPECT_EQ(plan->slots["date"], "2027-05-01");
}

TEST(SkillFromPlanTest, APlanFromASkillOrWithoutStepsIsNotSaved) {
  Plan from_skill = resize_plan();
  from_skill.skill = "resize-instance";
  auto a = skill_from_plan(from_skill, "again");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(a.error().message.find("nothing new"), std::string::npos);

  Plan empty = resize_plan();
  empty.steps.clear();
  auto b = skill_from_plan(empty, "empty");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("no steps"), std::string::npos);
}

}  // namespace
}  // namespace ergon
