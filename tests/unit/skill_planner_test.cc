#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "ergon/planner.h"

namespace ergon {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

SlotSpec slot(const std::string& name, SlotType type, bool required = true,
              std::string question = "", std::optional<Json> default_value = std::nullopt,
              std::vector<std::string> choices = {}) {
  SlotSpec spec;
  spec.name = name;
  spec.type = type;
  spec.required = required;
  spec.question = std::move(question);
  spec.default_value = std::move(default_value);
  spec.choices = std::move(choices);
  return spec;
}

Step step(const std::string& id, const std::string& action, std::vector<std::string> needs = {}) {
  Step s;
  s.id = id;
  s.action = action;
  s.needs = std::move(needs);
  return s;
}

// Five skills of different domains; two share slot types (two dates, two
// free-text accounts) to exercise alignment.
std::vector<Skill> library() {
  Skill cloud;
  cloud.name = "reduce-cloud-spend";
  cloud.description = "Reduce the monthly cloud bill by a percentage without touching production";
  cloud.examples = {"cut our monthly cloud spend by {target_pct}",
                    "reduce cloud costs by {target_pct} without touching production"};
  cloud.slots = {
      slot("target_pct", SlotType::kPercent, true, "By how much should monthly spend drop?")};
  cloud.steps = {step("bill", "cloud.get_bill"), step("stop", "cloud.stop_instance", {"bill"})};

  Skill scale;
  scale.name = "scale-service";
  scale.description = "Change how many replicas of a service run";
  scale.examples = {"scale {service} to {replicas} replicas",
                    "run {replicas} instances of {service}"};
  scale.slots = {slot("service", SlotType::kString), slot("replicas", SlotType::kNumber)};
  scale.steps = {step("scale", "k8s.scale")};

  Skill book;
  book.name = "book-appointment";
  book.description = "Book a medical appointment with a doctor, in-network when possible";
  book.examples = {"book an appointment with {doctor} on {date}",
                   "schedule a visit with {doctor} for {date}"};
  book.slots = {slot("doctor", SlotType::kString), slot("date", SlotType::kDate),
                slot("network", SlotType::kEnum, false, "", Json("in-network"),
                     {"in-network", "out-of-network"})};
  book.steps = {step("find", "care.find_slot"), step("book", "care.book", {"find"})};

  Skill transfer;
  transfer.name = "transfer-money";
  transfer.description = "Move money between bank accounts";
  transfer.examples = {"transfer {amount} from {source} to {target}", "send {amount} to {target}"};
  transfer.slots = {slot("amount", SlotType::kMoney),
                    slot("source", SlotType::kString, false, "", Json("checking")),
                    slot("target", SlotType::kString, true, "Which account receives it?")};
  transfer.steps = {step("move", "bank.transfer")};

  Skill leave;
  leave.name = "block-calendar";
  leave.description = "Block time off in the calendar between two dates";
  leave.examples = {"block my calendar from {start} to {end}",
                    "take vacation from {start} until {end}"};
  leave.slots = {slot("start", SlotType::kDate), slot("end", SlotType::kDate)};
  leave.steps = {step("block", "calendar.block")};

  return {cloud, scale, book, transfer, leave};
}

Plan planned(SkillPlanner& planner, const std::string& goal, const Json& known = Json::object()) {
  auto plan = planner.plan(goal, known);
  EXPECT_TRUE(plan.has_value()) << goal << ": " << plan.error().message;
  return plan ? *plan : Plan{};
}

TEST(SkillPlanner, PicksTheRightSkillForParaphrases) {
  SkillPlanner planner(library());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cut our monthly cloud spend by 15%", "reduce-cloud-spend"},
      {"Please reduce our cloud costs 20 percent", "reduce-cloud-spend"},
      {"lower the monthly cloud bill by 10% without touching production", "reduce-cloud-spend"},
      {"reduce clod spnd by 12%", "reduce-cloud-spend"},
      {"scale checkout to 5 replicas", "scale-service"},
      {"run 3 instances of the search api", "scale-service"},
      {"book an appointment with Dr. Smith on March 4, 2027", "book-appointment"},
      {"I need to see a doctor, can you schedule a visit?", "book-appointment"},
      {"transfer $500 from savings to checking", "transfer-money"},
      {"send 200 USD to Alice", "transfer-money"},
      {"block my calendar from March 4, 2027 to March 9, 2027", "block-calendar"},
      {"take time off between 2027-06-01 and 2027-06-10", "block-calendar"},
  };
  for (const auto& [goal, skill] : cases) {
    auto ranked = planner.rank(goal);
    ASSERT_EQ(ranked.size(), 5u);
    EXPECT_EQ(ranked.front().skill, skill) << goal;
    EXPECT_EQ(planned(planner, goal).skill, skill) << goal;
  }
}

TEST(SkillPlanner, RankScoresAreSortedAndBounded) {
  SkillPlanner planner(library());
  auto ranked = planner.rank("cut our monthly cloud spend by 15%");
  for (size_t i = 0; i < ranked.size(); ++i) {
    EXPECT_GE(ranked[i].score, 0.0);
    EXPECT_LE(ranked[i].score, 1.0);
    if (i > 0) {
      EXPECT_GE(ranked[i - 1].score, ranked[i].score);
    }
  }
  // A goal word for word like an example scores (close to) the top.
  EXPECT_GT(ranked.front().score, 0.9);
  EXPECT_LT(ranked[1].score, 0.2);
}

TEST(SkillPlanner, ExtractsThePercentage) {
  SkillPlanner planner(library());
  Plan plan = planned(planner, "cut our monthly cloud spend by 15%");
  EXPECT_EQ(plan.slots["target_pct"], Json(15));
  EXPECT_TRUE(plan.ready());
  EXPECT_EQ(plan.goal, "cut our monthly cloud spend by 15%");
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[1].action, "cloud.stop_instance");
  ASSERT_EQ(plan.slot_specs.size(), 1u);
  EXPECT_TRUE(validate_plan(plan).has_value());

  EXPECT_EQ(planned(planner, "reduce cloud costs by 15 without touching production").slots,
            Json({{"target_pct", 15}}));
  EXPECT_EQ(planned(planner, "reduce cloud costs 7.5 percent").slots["target_pct"], Json(7.5));
}

TEST(SkillPlanner, AsksWhenThePercentageIsMissing) {
  SkillPlanner planner(library());
  Plan plan = planned(planner, "Cut our cloud spend without touching production");
  EXPECT_EQ(plan.skill, "reduce-cloud-spend");
  EXPECT_FALSE(plan.ready());
  ASSERT_EQ(plan.questions.size(), 1u);
  EXPECT_EQ(plan.questions[0].slot, "target_pct");
  EXPECT_EQ(plan.questions[0].text, "By how much should monthly spend drop?");
  EXPECT_FALSE(plan.slots.contains("target_pct"));
  EXPECT_TRUE(validate_plan(plan).has_value());
}

TEST(SkillPlanner, UnrelatedGoalNamesTheClosestSkills) {
  SkillPlanner planner(library());
  auto plan = planner.plan("bake a chocolate cake", Json::object());
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(plan.error().message,
              StartsWith("no skill matches \"bake a chocolate cake\"; closest: "));
  EXPECT_THAT(plan.error().message, HasSubstr(" — teach one or rephrase"));
  // Three closest, each with a score.
  const std::string& message = plan.error().message;
  size_t named = 0;
  for (const Skill& skill : library()) {
    if (message.find(skill.name + " (0.") != std::string::npos) ++named;
  }
  EXPECT_EQ(named, 3u) << message;
}

TEST(SkillPlanner, KnownSlotsWinOverTheGoal) {
  SkillPlanner planner(library());
  EXPECT_EQ(planned(planner, "cut our monthly cloud spend by 15%", {{"target_pct", "20%"}})
                .slots["target_pct"],
            Json(20));
  EXPECT_EQ(planned(planner, "cut our monthly cloud spend by 15%", {{"target_pct", 25}})
                .slots["target_pct"],
            Json(25));
  // A known value also answers the question.
  Plan plan = planned(planner, "Cut our cloud spend without touching production",
                      {{"target_pct", "12 percent"}});
  EXPECT_TRUE(plan.ready());
  EXPECT_EQ(plan.slots["target_pct"], Json(12));

  auto bad = planner.plan("cut our monthly cloud spend", {{"target_pct", "lots"}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(bad.error().message,
            "slot 'target_pct' of skill 'reduce-cloud-spend': expected a percentage like 15%, got "
            "'lots'");

  auto not_object = planner.plan("cut our monthly cloud spend", Json::array());
  ASSERT_FALSE(not_object.has_value());
  EXPECT_EQ(not_object.error().code, ErrorCode::kInvalidInput);
}

TEST(SkillPlanner, FreeTextSlotsAlignWithTheExamples) {
  SkillPlanner planner(library());
  Plan book = planned(planner, "book an appointment with Dr. Smith on March 4, 2027");
  EXPECT_EQ(book.slots["doctor"], "Dr. Smith");
  EXPECT_EQ(book.slots["date"], "2027-03-04");
  EXPECT_EQ(book.slots["network"], "in-network");  // the optional slot's default
  EXPECT_TRUE(book.ready());

  Plan scale = planned(planner, "run 3 instances of the search api");
  EXPECT_EQ(scale.slots["replicas"], Json(3));
  EXPECT_EQ(scale.slots["service"], "search api");

  Plan transfer = planned(planner, "please transfer $500 from my savings to checking");
  EXPECT_EQ(transfer.slots["amount"], Json(500));
  EXPECT_EQ(transfer.slots["source"], "my savings");
  EXPECT_EQ(transfer.slots["target"], "checking");

  // The words around {amount} say it is money, even without a currency sign.
  Plan bare = planned(planner, "transfer 1,200 from savings to checking");
  EXPECT_EQ(bare.slots["amount"], Json(1200));

  Plan send = planned(planner, "send 200 USD to Alice.");
  EXPECT_EQ(send.slots["amount"], Json(200));
  EXPECT_EQ(send.slots["target"], "Alice");
  EXPECT_EQ(send.slots["source"], "checking");  // default
}

TEST(SkillPlanner, FreeTextStopsWhereATypedValueStarts) {
  FakeClock clock(1'700'000'000'000);  // 2023-11-14 UTC
  SkillPlanner planner(library(), 0.2, &clock);
  Plan plan = planned(planner, "book an appointment with Dr. Smith tomorrow");
  EXPECT_EQ(plan.slots["date"], "2023-11-15");
  EXPECT_EQ(plan.slots["doctor"], "Dr. Smith");
}

TEST(SkillPlanner, TwoSlotsOfOneTypeFollowTheExample) {
  SkillPlanner planner(library());
  Plan anchored = planned(planner, "block my calendar from March 4, 2027 to March 9, 2027");
  EXPECT_EQ(anchored.slots["start"], "2027-03-04");
  EXPECT_EQ(anchored.slots["end"], "2027-03-09");

  // Anchors that point backwards in the sentence still win over position.
  Plan reversed = planned(planner, "block my calendar to 2027-03-09, starting from 2027-03-04");
  EXPECT_EQ(reversed.slots["start"], "2027-03-04");
  EXPECT_EQ(reversed.slots["end"], "2027-03-09");

  // One anchor found ("until"); the other date is the one left over.
  Plan partial = planned(planner, "take vacation 2027-06-01 until 2027-06-10");
  EXPECT_EQ(partial.slots["start"], "2027-06-01");
  EXPECT_EQ(partial.slots["end"], "2027-06-10");

  // No anchors: values go to the slots in the order the example names them.
  Plan positional = planned(planner, "take time off between 2027-06-01 and 2027-06-10");
  EXPECT_EQ(positional.slots["start"], "2027-06-01");
  EXPECT_EQ(positional.slots["end"], "2027-06-10");
}

TEST(SkillPlanner, MissingRequiredSlotsBecomeQuestions) {
  SkillPlanner planner(library());
  Plan plan = planned(planner, "schedule a visit with a doctor");
  EXPECT_EQ(plan.skill, "book-appointment");
  std::vector<std::string> asked;
  for (const Question& question : plan.questions) asked.push_back(question.slot);
  EXPECT_THAT(asked, ::testing::Contains("date"));
  for (const Question& question : plan.questions) {
    if (question.slot == "date") {
      EXPECT_EQ(question.text, "What should date be?");
    }
  }
  EXPECT_TRUE(validate_plan(plan).has_value());
}

TEST(SkillPlanner, MinScoreAndEmptyLibrary) {
  SkillPlanner strict(library(), 0.99);
  auto plan = strict.plan("reduce cloud costs", Json::object());
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(plan.error().message, HasSubstr("closest: reduce-cloud-spend (0."));

  SkillPlanner empty({});
  auto none = empty.plan("anything", Json::object());
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(empty.rank("anything").empty());
}

TEST(PlanFromSkill, FillsDefaultsAndQuestions) {
  Skill book = library()[2];
  Plan plan = plan_from_skill(book, "see a doctor", Json::object());
  EXPECT_EQ(plan.goal, "see a doctor");
  EXPECT_EQ(plan.skill, "book-appointment");
  EXPECT_EQ(plan.slots, Json({{"network", "in-network"}}));
  ASSERT_EQ(plan.questions.size(), 2u);
  EXPECT_EQ(plan.questions[0].slot, "doctor");
  EXPECT_EQ(plan.questions[0].text, "What should doctor be?");
  EXPECT_EQ(plan.questions[1].slot, "date");
  EXPECT_EQ(plan.steps.size(), 2u);

  Plan filled = plan_from_skill(
      book, "g", {{"doctor", "Dr. Who"}, {"date", "2027-01-02"}, {"network", "out-of-network"}});
  EXPECT_TRUE(filled.ready());
  EXPECT_EQ(filled.slots["network"], "out-of-network");
  EXPECT_TRUE(validate_plan(filled, {"care.find_slot", "care.book"}).has_value());
}

}  // namespace
}  // namespace ergon
