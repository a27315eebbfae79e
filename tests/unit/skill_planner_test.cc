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
  };
  for (const auto& [goal, skill] : cases) {
    auto ranked = planner.rank(goal);
    ASSERT_EQ(ranked.size(), 5u);
    EXPECT_EQ(ranked.front().skill, skill) << goal;
    EXPECT_EQ(planned(planner, goal).skill, skill) << goal;
  }
  // Only the description says "time off": ranked first, and planned or asked
  // about, never another skill.
  const std::string time_off = "take time off between 2027-06-01 and 2027-06-10";
  EXPECT_EQ(planner.rank(time_off).front().skill, "block-calendar");
  auto plan = planner.plan(time_off, Json::object());
  if (plan) {
    EXPECT_EQ(plan->skill, "block-calendar");
  } else {
    EXPECT_EQ(plan.error().code, ErrorCode::kNeedsPerson);
    EXPECT_THAT(plan.error().message, StartsWith("Did you mean \"block-calendar\""));
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
  SkillPlanner planner(library(), {}, &clock);
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
  auto chosen = planner.plan_with_skill(
      "block-calendar", "take time off between 2027-06-01 and 2027-06-10", Json::object());
  ASSERT_TRUE(chosen.has_value()) << chosen.error().message;
  Plan positional = *chosen;
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

TEST(SkillPlanner, ThresholdsAndEmptyLibrary) {
  // Below `ask`: no skill, the closest named with their confidence.
  SkillPlanner strict(library(), {.accept = 1.01, .ask = 1.0});
  auto plan = strict.plan("reduce cloud costs", Json::object());
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(plan.error().message, HasSubstr("closest: reduce-cloud-spend (0.9"));

  // Between `ask` and `accept`: a question naming the skill and its closest
  // phrasing, and how to choose it.
  SkillPlanner unsure(library(), {.accept = 1.01, .ask = 0.5});
  auto asked = unsure.plan("reduce cloud costs", Json::object());
  ASSERT_FALSE(asked.has_value());
  EXPECT_EQ(asked.error().code, ErrorCode::kNeedsPerson);
  EXPECT_EQ(asked.error().message,
            "Did you mean \"reduce-cloud-spend\" (reduce cloud costs by {target_pct} without "
            "touching production)? Run again with --skill reduce-cloud-spend, or rephrase.");

  SkillPlanner empty({});
  auto none = empty.plan("anything", Json::object());
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(empty.rank("anything").empty());
}

Skill skill_of(const std::string& name, std::vector<std::string> examples,
               std::vector<SlotSpec> slots = {}) {
  Skill skill;
  skill.name = name;
  skill.examples = std::move(examples);
  skill.slots = std::move(slots);
  return skill;
}

bool has_synonym(const SkillPlanner& planner, const std::string& word, const std::string& other) {
  for (const auto& [synonym, strength] : planner.synonyms(word)) {
    if (synonym == other) return strength > 0 && strength <= 1;
  }
  return false;
}

TEST(SkillPlanner, LearnsSynonymsFromTheExamples) {
  // "bounce" and "restart" fill the same slot of one skill's phrasings; no
  // lexicon knows them.
  Skill service =
      skill_of("restart-service", {"restart web service {service}", "bounce web service {service}"},
               {slot("service", SlotType::kString)});
  Skill database =
      skill_of("restart-database", {"restart the database {db}", "restart database server {db}"},
               {slot("db", SlotType::kString)});
  SkillPlanner taught({service, database});
  EXPECT_TRUE(has_synonym(taught, "bounce", "restart"));
  EXPECT_TRUE(has_synonym(taught, "restart", "bounc"));  // normalised (stemmed) words

  // A synonym seen only in another skill's examples still helps: without the
  // "bounce" phrasing, the same goal matches the database skill less well.
  Skill plain = skill_of("restart-service", {"restart web service {service}"},
                         {slot("service", SlotType::kString)});
  SkillPlanner untaught({plain, database});
  EXPECT_FALSE(has_synonym(untaught, "bounce", "restart"));
  const std::string goal = "bounce the database orders-db";
  auto with = taught.rank(goal);
  auto without = untaught.rank(goal);
  ASSERT_EQ(with.front().skill, "restart-database");
  ASSERT_EQ(without.front().skill, "restart-database");
  EXPECT_GT(with.front().score, without.front().score + 0.05);
  EXPECT_GT(with.front().confidence, without.front().confidence);
}

TEST(SkillPlanner, ContrastsAndCompanionsAreNotSynonyms) {
  // The same context in two skills tells them apart: start/stop, and the
  // lexicon's cancel/revoke too.
  SkillPlanner contrasted({skill_of("start-vm", {"start virtual machine {vm}"}),
                           skill_of("stop-vm", {"stop virtual machine {vm}"}),
                           skill_of("cancel-order", {"cancel order {id}"}),
                           skill_of("revoke-order", {"revoke order {id}"})});
  EXPECT_FALSE(has_synonym(contrasted, "start", "stop"));
  EXPECT_FALSE(has_synonym(contrasted, "cancel", "revok"));
  EXPECT_EQ(contrasted.rank("stop the virtual machine web-1").front().skill, "stop-vm");
  // Without the contrast the lexicon's pair stands.
  SkillPlanner lexicon({skill_of("cancel-order", {"cancel order {id}"})});
  EXPECT_TRUE(has_synonym(lexicon, "revoke", "cancel"));

  // Words of one phrasing are companions, not alternatives, though they also
  // share a context elsewhere ("approve and pay" / "pay invoice" / "approve invoice").
  SkillPlanner companions({skill_of("pay-invoice", {"approve and pay invoice {id}",
                                                    "pay invoice {id}", "approve invoice {id}"})});
  EXPECT_FALSE(has_synonym(companions, "pay", "approv"));
}

TEST(SkillPlanner, WordOrderAndTyposDoNotMatter) {
  SkillPlanner planner(library());
  for (const char* goal :
       {"cut our monthly cloud spend by 15%", "by 15% our monthly cloud spend: cut it",
        "monthly spend on cloud, cut by 15%", "cut our monthly clowd spnd by 15%"}) {
    Plan plan = planned(planner, goal);
    EXPECT_EQ(plan.skill, "reduce-cloud-spend") << goal;
    EXPECT_EQ(plan.slots["target_pct"], Json(15)) << goal;
  }
}

TEST(SkillPlanner, ConfidenceIsCalibratedAndMonotone) {
  SkillPlanner planner(library());
  const PlannerCalibration& calibration = planner.calibration();
  EXPECT_TRUE(calibration.fitted);
  EXPECT_EQ(calibration.matches, 10u);  // every example held out once
  EXPECT_GT(calibration.non_matches, calibration.matches);
  for (double weight :
       {calibration.w_score, calibration.w_coverage, calibration.w_margin, calibration.w_core}) {
    EXPECT_GE(weight, 0.5);
  }
  // An example word for word is near certain; words no skill knows lower it.
  auto exact = planner.rank("cut our monthly cloud spend by 15%");
  auto diluted = planner.rank("cut our monthly cloud spend by 15% and repaint the lobby walls");
  EXPECT_GT(exact.front().confidence, 0.95);
  EXPECT_LT(diluted.front().confidence, exact.front().confidence);
  for (const SkillMatch& match : exact) {
    EXPECT_GE(match.confidence, 0.0);
    EXPECT_LE(match.confidence, 1.0);
  }
  EXPECT_EQ(exact.front().example, "cut our monthly cloud spend by {target_pct}");

  // A library too small to fit keeps the prior model.
  SkillPlanner tiny({library()[0]});
  EXPECT_FALSE(tiny.calibration().fitted);
  EXPECT_EQ(tiny.calibration().matches, 2u);
}

TEST(SkillPlanner, UnrelatedGoalsNeverRunASkill) {
  SkillPlanner planner(library());
  for (const char* goal :
       {"bake a chocolate cake", "book a table at an Italian restaurant", "scale the mountain",
        "send flowers to my mother", "what is the weather in Paris", "block the spam caller",
        "reduce the volume of the music", "transfer the photos to my laptop"}) {
    auto plan = planner.plan(goal, Json::object());
    ASSERT_FALSE(plan.has_value()) << goal << " planned " << plan->skill;
    EXPECT_TRUE(plan.error().code == ErrorCode::kNotFound ||
                plan.error().code == ErrorCode::kNeedsPerson)
        << goal << ": " << plan.error().message;
  }
}

TEST(SkillPlanner, TwoCloseSkillsAreBothNamed) {
  std::vector<Skill> skills = library();
  Skill twin = skills[0];
  twin.name = "reduce-cloud-spend-eu";
  skills.push_back(twin);
  SkillPlanner planner(skills);
  auto plan = planner.plan("cut our monthly cloud spend by 15%", Json::object());
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code, ErrorCode::kNeedsPerson);
  EXPECT_EQ(plan.error().message,
            "Did you mean \"reduce-cloud-spend\" (cut our monthly cloud spend by {target_pct}) or "
            "\"reduce-cloud-spend-eu\" (cut our monthly cloud spend by {target_pct})? Run again "
            "with --skill reduce-cloud-spend or --skill reduce-cloud-spend-eu, or rephrase.");
  // The person's choice settles it.
  auto chosen = planner.plan_with_skill("reduce-cloud-spend-eu",
                                        "cut our monthly cloud spend by 15%", Json::object());
  ASSERT_TRUE(chosen.has_value()) << chosen.error().message;
  EXPECT_EQ(chosen->skill, "reduce-cloud-spend-eu");
  EXPECT_EQ(chosen->slots["target_pct"], Json(15));
}

TEST(SkillPlanner, PlanWithSkillSkipsRanking) {
  SkillPlanner planner(library());
  // Any wording: the person named the skill.
  auto plan = planner.plan_with_skill("transfer-money", "pay Alice 200 USD", Json::object());
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(plan->skill, "transfer-money");
  EXPECT_EQ(plan->slots["amount"], Json(200));
  EXPECT_EQ(plan->goal, "pay Alice 200 USD");

  auto known = planner.plan_with_skill("transfer-money", "move money", {{"amount", "$50"}});
  ASSERT_TRUE(known.has_value());
  EXPECT_EQ(known->slots["amount"], Json(50));

  auto unknown = planner.plan_with_skill("reduce-cloud", "cut spend", Json::object());
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(unknown.error().message,
            "no skill named \"reduce-cloud\"; did you mean reduce-cloud-spend? — `ergon skills` "
            "lists the workspace's skills");
  auto nothing_close = planner.plan_with_skill("zzz", "cut spend", Json::object());
  ASSERT_FALSE(nothing_close.has_value());
  EXPECT_EQ(nothing_close.error().message,
            "no skill named \"zzz\" — `ergon skills` lists the workspace's skills");
  auto bad_slots = planner.plan_with_skill("transfer-money", "x", Json::array());
  ASSERT_FALSE(bad_slots.has_value());
  EXPECT_EQ(bad_slots.error().code, ErrorCode::kInvalidInput);
}

TEST(SkillPlanner, FillsCodesEmailsAndRelativeDates) {
  Skill approve =
      skill_of("approve-invoice",
               {"approve invoice {invoice_id}",
                "approve the {amount} invoice "
                "{invoice_id} from {vendor}"},
               {slot("invoice_id", SlotType::kCode), slot("amount", SlotType::kMoney, false),
                slot("vendor", SlotType::kString, false)});
  Skill meet = skill_of(
      "schedule-meeting",
      {"book a meeting with {attendee} on {date}", "set up a meeting with {attendee} for {date}"},
      {slot("attendee", SlotType::kEmail), slot("date", SlotType::kDate)});
  FakeClock clock(1'804'156'200'000);  // 2027-03-04 10:30 UTC, a Thursday
  SkillPlanner planner({approve, meet, library()[0]}, {}, &clock);

  Plan invoice = planned(planner, "please approve the $4,500 invoice INV-2027-044 from Initech");
  EXPECT_EQ(invoice.skill, "approve-invoice");
  EXPECT_EQ(invoice.slots["invoice_id"], "INV-2027-044");
  EXPECT_EQ(invoice.slots["amount"], Json(4500));
  EXPECT_EQ(invoice.slots["vendor"], "Initech");

  Plan meeting = planned(planner, "schedule a meeting with priya@example.com next Tuesday");
  EXPECT_EQ(meeting.skill, "schedule-meeting");
  EXPECT_EQ(meeting.slots["attendee"], "priya@example.com");
  EXPECT_EQ(meeting.slots["date"], "2027-03-09");
  Plan soon = planned(planner, "set up a meeting in 3 days with ops@example.org");
  EXPECT_EQ(soon.slots["date"], "2027-03-07");
  EXPECT_EQ(soon.slots["attendee"], "ops@example.org");

  // A given code is parsed like an answer.
  auto given = planner.plan("approve invoice", {{"invoice_id", "FAC-1058"}});
  ASSERT_TRUE(given.has_value()) << given.error().message;
  EXPECT_EQ(given->slots["invoice_id"], "FAC-1058");
  auto wrong = planner.plan("approve invoice", {{"invoice_id", "soon"}});
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().message,
            "slot 'invoice_id' of skill 'approve-invoice': expected a code like MBR-123456 or "
            "INV-2027-001 (letters and digits), got 'soon'");
}

TEST(SkillPlanner, ExampleWorkspaceGoalsPlanWithHighConfidence) {
  Skill cloud = library()[0];
  cloud.examples = {"cut our monthly cloud spend by {target_pct} without touching production",
                    "reduce cloud costs by {target_pct}",
                    "lower the cloud bill by {target_pct}",
                    "trim our cloud spend by {target_pct} but leave prod alone",
                    "save {target_pct} on the monthly cloud invoice",
                    "cut cloud spend"};
  SkillPlanner planner({cloud});
  for (const char* goal : {"Cut our monthly cloud spend by 15% without touching production",
                           "reduce cloud costs by 10%", "Cut our cloud spend"}) {
    auto ranked = planner.rank(goal);
    EXPECT_GT(ranked.front().confidence, 0.9) << goal;
    EXPECT_EQ(planned(planner, goal).skill, "reduce-cloud-spend") << goal;
  }
  auto cake = planner.plan("bake a chocolate cake", Json::object());
  ASSERT_FALSE(cake.has_value());
  EXPECT_EQ(cake.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(cake.error().message, HasSubstr("closest: reduce-cloud-spend (0.0"));
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
