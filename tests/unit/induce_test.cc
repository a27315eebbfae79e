#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ergon/browser.h"
#include "ergon/expression.h"
#include "ergon/learn.h"
#include "ergon/workspace.h"
#include "support/process.h"

namespace ergon {
namespace {

using testing::TempDir;
using testing::write_file;

Json field(const std::string& role, const std::string& name, const std::string& name_attr = "",
           const std::string& id = "") {
  Json target = {{"role", role}, {"name", name}, {"tag", role == "button" ? "button" : "input"}};
  if (!name_attr.empty()) target["name_attr"] = name_attr;
  if (!id.empty()) target["id"] = id;
  target["dom_path"] = "html/body/main/form/div";
  target["neighbor_text"] = name;
  target["x"] = 100;
  target["y"] = 200.5;
  return target;
}

DemoStep fill_in(const std::string& name, const std::string& name_attr, const Json& value) {
  DemoStep step;
  step.action = "portal.fill";
  step.with = {{"target", field("textbox", name, name_attr)}, {"value", value}};
  return step;
}

DemoStep choose(const std::string& name, const std::string& name_attr, const std::string& option) {
  DemoStep step;
  step.action = "portal.select";
  step.with = {{"target", field("combobox", name, name_attr)}, {"option", option}};
  return step;
}

DemoStep click(const std::string& name) {
  DemoStep step;
  step.action = "portal.click";
  step.with = {{"target", field("button", name)}};
  return step;
}

DemoStep check(const std::string& name) {
  DemoStep step;
  step.action = "portal.check";
  step.with = {{"target", field("checkbox", name)}, {"checked", true}};
  return step;
}

DemoStep navigate(const std::string& url) {
  DemoStep step;
  step.action = "portal.navigate";
  step.with = {{"url", url}};
  return step;
}

DemoStep call(const std::string& action, Json args, Json result) {
  DemoStep step;
  step.action = action;
  step.with = std::move(args);
  step.result = std::move(result);
  return step;
}

Demonstration browser_demo(const std::string& id, const std::string& instruction,
                           std::vector<DemoStep> steps) {
  Demonstration demo;
  demo.id = id;
  demo.instruction = instruction;
  demo.kind = "browser";
  demo.connector = "portal";
  demo.start_url = "http://127.0.0.1:4000/login";
  demo.recorded = "2026-12-03T07:00:00Z";
  demo.steps = std::move(steps);
  return demo;
}

Demonstration api_demo(const std::string& id, const std::string& instruction,
                       std::vector<DemoStep> steps) {
  Demonstration demo;
  demo.id = id;
  demo.instruction = instruction;
  demo.kind = "api";
  demo.steps = std::move(steps);
  return demo;
}

InduceOptions named(const std::string& name) {
  InduceOptions options;
  options.name = name;
  return options;
}

const Step* step_named(const Skill& skill, const std::string& id) {
  for (const Step& step : skill.steps) {
    if (step.id == id) return &step;
  }
  return nullptr;
}

const SlotSpec* slot_named(const Skill& skill, const std::string& name) {
  for (const SlotSpec& slot : skill.slots) {
    if (slot.name == name) return &slot;
  }
  return nullptr;
}

std::string all_notes(const InducedSkill& induced) {
  std::string out;
  for (const std::string& note : induced.notes) out += note + "\n";
  return out;
}

bool has_note(const InducedSkill& induced, const std::string& part) {
  return std::any_of(induced.notes.begin(), induced.notes.end(),
                     [&](const std::string& note) { return note.find(part) != std::string::npos; });
}

std::vector<std::string> portal_actions() {
  std::vector<std::string> names;
  for (const ActionSpec& spec : browser_actions("portal")) names.push_back(spec.name);
  return names;
}

// The skill file the draft would be: it must load, and load to the same skill.
void expect_round_trip(const InducedSkill& induced, const std::vector<std::string>& actions) {
  TempDir dir;
  std::string yaml = skill_to_yaml(induced.skill, induced.notes);
  write_file(dir.file("skill.yaml"), yaml);
  auto loaded = load_skill_file(dir.file("skill.yaml"));
  ASSERT_TRUE(loaded) << loaded.error().message << "\n" << yaml;
  EXPECT_EQ(loaded->name, induced.skill.name);
  EXPECT_EQ(loaded->description, induced.skill.description);
  EXPECT_EQ(loaded->examples, induced.skill.examples);
  ASSERT_EQ(loaded->slots.size(), induced.skill.slots.size());
  for (size_t i = 0; i < loaded->slots.size(); ++i) {
    EXPECT_EQ(to_json(loaded->slots[i]), to_json(induced.skill.slots[i])) << yaml;
  }
  ASSERT_EQ(loaded->steps.size(), induced.skill.steps.size());
  for (size_t i = 0; i < loaded->steps.size(); ++i) {
    Step a = loaded->steps[i];
    a.loc = {};
    EXPECT_EQ(to_json(a), to_json(induced.skill.steps[i])) << yaml;
  }
  // It plans and validates against the workspace's actions.
  Plan plan = plan_from_skill(*loaded, "goal", Json::object());
  plan.questions.clear();
  for (const SlotSpec& slot : loaded->slots) {
    if (slot.required && !plan.slots.contains(slot.name)) {
      plan.questions.push_back({slot.name, slot.question});
    }
  }
  auto ok = validate_plan(plan, actions);
  EXPECT_TRUE(ok) << ok.error().message << "\n" << yaml;
}

Json render(const Json& value, const Json& slots, const Json& steps = Json::object()) {
  Sandbox sandbox;
  auto out = sandbox.render(value, {{"slots", slots}, {"steps", steps}});
  EXPECT_TRUE(out) << (out ? "" : out.error().message);
  return out ? *out : Json();
}

// ---------------------------------------------------------------------------
// One demonstration.

Demonstration mri_demo() {
  DemoStep password;
  password.action = "portal.fill";
  password.with = {{"target", field("textbox", "Password", "password", "password")},
                   {"secret", "CARE_PORTAL_PASSWORD"}};
  return browser_demo(
      "mri-1", "book an MRI 72148 for Jane Doe (MBR-123456) on March 4, 2027, copay up to $1,200",
      {fill_in("Username", "username", "dr.lee"), password, click("Sign in"),
       navigate("/preauth/new"), fill_in("Patient name", "patient_name", "Jane Doe"),
       fill_in("Member ID", "member_id", "MBR-123456"), choose("Procedure (CPT)", "cpt", "72148"),
       fill_in("Preferred date", "preferred_date", "03/04/2027"),
       fill_in("Maximum copay", "max_copay", "1,200.00"),
       fill_in("Clinical notes", "notes", "MRI 72148 requested for Jane Doe; see referral."),
       check("I attest the information is accurate"), click("Submit request"),
       navigate("/schedule?date=2027-03-04&facility=FAC-1058"), click("Confirm appointment")});
}

TEST(Induce, OneBrowserDemonstration) {
  Demonstration demo = mri_demo();
  auto induced = induce_skill({demo}, named("book-mri"));
  ASSERT_TRUE(induced) << induced.error().message;
  const Skill& skill = induced->skill;
  std::string notes = all_notes(*induced);
  EXPECT_EQ(skill.name, "book-mri");
  // The description is the instruction with its values as slots.
  EXPECT_EQ(skill.description,
            skill.examples.front() + " (learned from demonstration " + demo.id + ")");
  EXPECT_EQ(skill.description.find("Jane"), std::string::npos) << skill.description;

  // Slots from the instruction, typed, named after the fields.
  ASSERT_NE(slot_named(skill, "patient_name"), nullptr) << notes;
  EXPECT_EQ(slot_named(skill, "patient_name")->type, SlotType::kString);
  ASSERT_NE(slot_named(skill, "member_id"), nullptr) << notes;
  EXPECT_EQ(slot_named(skill, "member_id")->type, SlotType::kCode);
  ASSERT_NE(slot_named(skill, "cpt"), nullptr) << notes;
  EXPECT_EQ(slot_named(skill, "cpt")->type, SlotType::kCode);
  ASSERT_NE(slot_named(skill, "preferred_date"), nullptr) << notes;
  EXPECT_EQ(slot_named(skill, "preferred_date")->type, SlotType::kDate);
  ASSERT_NE(slot_named(skill, "max_copay"), nullptr) << notes;
  EXPECT_EQ(slot_named(skill, "max_copay")->type, SlotType::kMoney);
  EXPECT_EQ(skill.slots.size(), 5u) << notes;
  for (const SlotSpec& slot : skill.slots) {
    EXPECT_TRUE(slot.required) << slot.name;
    EXPECT_FALSE(slot.question.empty()) << slot.name;
  }
  EXPECT_EQ(slot_named(skill, "member_id")->question,
            "What should Member ID be (e.g. MBR-123456)?");

  // The opening navigation, where the recording began.
  ASSERT_FALSE(skill.steps.empty());
  EXPECT_EQ(skill.steps[0].id, "open_login");
  EXPECT_EQ(skill.steps[0].with["url"], "/login");

  // Constants kept; the secret kept as a reference and never a value.
  const Step* username = step_named(skill, "fill_username");
  ASSERT_NE(username, nullptr) << notes;
  EXPECT_EQ(username->with["value"], "dr.lee");
  EXPECT_TRUE(has_note(*induced, "constant: step fill_username value 'dr.lee'")) << notes;
  const Step* password = step_named(skill, "fill_password");
  ASSERT_NE(password, nullptr);
  EXPECT_EQ(password->with["secret"], "CARE_PORTAL_PASSWORD");
  EXPECT_FALSE(password->with.contains("value"));
  EXPECT_EQ(password->with["target"], demo.steps[1].with["target"]);  // full fingerprint
  const Step* attest = step_named(skill, "check_i_attest_the_information_is");
  ASSERT_NE(attest, nullptr) << notes;
  EXPECT_EQ(attest->with["checked"], true);

  // Templates reproduce the demonstrated formats for new values.
  Json slots = {{"patient_name", "John Roe"},
                {"member_id", "MBR-654321"},
                {"cpt", "70551"},
                {"preferred_date", "2027-11-30"},
                {"max_copay", 25000.5}};
  const Step* member = step_named(skill, "fill_member_id");
  ASSERT_NE(member, nullptr);
  EXPECT_EQ(member->with["value"], "${slots.member_id}");
  EXPECT_EQ(member->with["target"], demo.steps[5].with["target"]);
  EXPECT_EQ(render(step_named(skill, "select_procedure_cpt")->with["option"], slots), "70551");
  EXPECT_EQ(render(step_named(skill, "fill_preferred_date")->with["value"], slots), "11/30/2027");
  EXPECT_EQ(render(step_named(skill, "fill_maximum_copay")->with["value"], slots), "25,000.50");
  EXPECT_EQ(render(step_named(skill, "fill_clinical_notes")->with["value"], slots),
            "MRI 70551 requested for John Roe; see referral.");
  const Step* schedule = step_named(skill, "open_schedule");
  ASSERT_NE(schedule, nullptr) << notes;
  EXPECT_EQ(render(schedule->with["url"], slots), "/schedule?date=2027-11-30&facility=FAC-1058");

  // The instruction as an example phrasing.
  ASSERT_EQ(skill.examples.size(), 1u);
  EXPECT_EQ(skill.examples[0],
            "book an MRI {cpt} for {patient_name} ({member_id}) on {preferred_date}, copay up "
            "to {max_copay}");
  EXPECT_TRUE(has_note(*induced, "slot member_id (code) from 'MBR-123456' in the instruction"))
      << notes;
  EXPECT_FALSE(has_note(*induced, "check:")) << notes;
  expect_round_trip(*induced, portal_actions());
}

TEST(Induce, DateFormatsAndNumbersAsTyped) {
  struct Case {
    std::string instruction, typed, canonical_new, expected;
  };
  const Case cases[] = {
      {"visit on 2027-03-04", "04.03.2027", "2027-12-25", "25.12.2027"},
      {"visit on 3/4/2027", "2027-03-04", "2027-12-25", "2027-12-25"},
      {"visit on 2027-03-04", "March 4, 2027", "2027-12-25", "December 25, 2027"},
      {"visit on 2027-03-04", "4 Mar 2027", "2027-12-05", "5 Dec 2027"},
      {"pay $1,200 now", "1200", "", ""},
      {"pay $1,200 now", "$1,200", "", ""},
      {"cut by 15%", "15%", "", ""},
  };
  for (const Case& c : cases) {
    Demonstration demo =
        browser_demo("d", c.instruction, {navigate("/form"), fill_in("Amount", "amount", c.typed)});
    auto induced = induce_skill({demo}, named("x"));
    ASSERT_TRUE(induced) << induced.error().message;
    ASSERT_EQ(induced->skill.slots.size(), 1u) << c.typed << "\n" << all_notes(*induced);
    const Json& value = step_named(induced->skill, "fill_amount")->with["value"];
    EXPECT_FALSE(has_note(*induced, "check:")) << all_notes(*induced);
    if (!c.canonical_new.empty()) {
      EXPECT_EQ(induced->skill.slots[0].type, SlotType::kDate);
      EXPECT_EQ(render(value, {{"amount", c.canonical_new}}), c.expected) << value;
    }
  }
  // Amounts keep their sign and separators; a percentage its '%'.
  Demonstration money =
      browser_demo("d", "pay $1,200 and cut by 15%",
                   {fill_in("Amount", "amount", "$1,200"), fill_in("Plain", "plain", "1200"),
                    fill_in("Cut", "cut", "15%")});
  auto induced = induce_skill({money}, named("pay"));
  ASSERT_TRUE(induced) << induced.error().message;
  const Skill& skill = induced->skill;
  ASSERT_EQ(skill.slots.size(), 2u) << all_notes(*induced);
  EXPECT_EQ(skill.slots[0].type, SlotType::kMoney);
  EXPECT_EQ(skill.slots[1].type, SlotType::kPercent);
  Json slots = {{skill.slots[0].name, 98765}, {skill.slots[1].name, 20}};
  EXPECT_EQ(render(step_named(skill, "fill_amount")->with["value"], slots), "$98,765");
  EXPECT_EQ(render(step_named(skill, "fill_plain")->with["value"], slots), "98765");
  EXPECT_EQ(render(step_named(skill, "fill_cut")->with["value"], slots), "20%");
}

TEST(Induce, SecretNeverBecomesAValue) {
  DemoStep password;
  password.action = "portal.fill";
  password.with = {{"target", field("textbox", "Password", "password")}, {"secret", "PORTAL_PW"}};
  // The secret's name even appears in the instruction: it stays a reference.
  Demonstration demo = browser_demo("d", "sign in with PORTAL_PW as dr.lee",
                                    {fill_in("Username", "username", "dr.lee"), password});
  auto induced = induce_skill({demo}, named("sign-in"));
  ASSERT_TRUE(induced) << induced.error().message;
  const Step* step = step_named(induced->skill, "fill_password");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->with, password.with);
  for (const SlotSpec& slot : induced->skill.slots) EXPECT_NE(slot.name, "password");
  std::string yaml = skill_to_yaml(induced->skill, induced->notes);
  EXPECT_NE(yaml.find("secret: PORTAL_PW"), std::string::npos) << yaml;
  EXPECT_TRUE(has_note(*induced, "vault secret PORTAL_PW")) << all_notes(*induced);
  expect_round_trip(*induced, portal_actions());
}

// ---------------------------------------------------------------------------
// Several demonstrations.

std::vector<Demonstration> supply_demos() {
  auto order = [](const std::string& id, const std::string& instruction, const std::string& item,
                  const std::string& qty, const std::string& ward, const std::string& delivery,
                  const std::string& cost_center, bool tips, const std::string& notes) {
    std::vector<DemoStep> steps = {navigate("/order")};
    if (tips) steps.push_back(click("Dismiss tips"));
    steps.push_back(fill_in("Item", "item", item));
    steps.push_back(fill_in("Quantity", "qty", qty));
    steps.push_back(fill_in("Ward", "ward", ward));
    steps.push_back(fill_in("Cost center", "cost_center", cost_center));
    steps.push_back(fill_in("Requested by", "requester", "Dr Lee"));
    steps.push_back(choose("Delivery", "delivery", delivery));
    if (delivery == "express") steps.push_back(check("Signature required"));
    if (!notes.empty()) steps.push_back(fill_in("Notes", "notes", notes));
    steps.push_back(click("Submit"));
    Demonstration demo = browser_demo(id, instruction, steps);
    demo.start_url = "";
    return demo;
  };
  return {order("o1", "order 3 boxes of gloves for ward 7, express delivery", "gloves", "3", "7",
                "express", "CC-100", true, ""),
          order("o2", "order 12 boxes of masks for ward 2, standard delivery", "masks", "12", "2",
                "standard", "CC-200", true, ""),
          order("o3", "order 5 boxes of syringes for ward 4, express delivery, notes: fragile",
                "syringes", "5", "4", "express", "CC-100", false, "fragile")};
}

TEST(Induce, TwoDemonstrationsDifferingValuesAndABranch) {
  auto demos = supply_demos();
  demos.pop_back();
  auto induced = induce_skill(demos, named("order-supplies"));
  ASSERT_TRUE(induced) << induced.error().message;
  const Skill& skill = induced->skill;
  std::string notes = all_notes(*induced);
  // In the instruction: item, quantity, ward, delivery.
  for (const char* name : {"item", "qty", "ward", "delivery"}) {
    ASSERT_NE(slot_named(skill, name), nullptr) << name << "\n" << notes;
  }
  EXPECT_EQ(slot_named(skill, "qty")->type, SlotType::kNumber);
  // Not in the instructions, but different: a slot with a question.
  const SlotSpec* cost = slot_named(skill, "cost_center");
  ASSERT_NE(cost, nullptr) << notes;
  EXPECT_TRUE(cost->required);
  EXPECT_EQ(cost->type, SlotType::kCode);
  EXPECT_EQ(cost->question, "What should Cost center be (e.g. CC-100)?");
  EXPECT_TRUE(has_note(*induced, "slot cost_center (code) differs across the demonstrations"))
      << notes;
  // The same everywhere: a constant.
  EXPECT_EQ(step_named(skill, "fill_requested_by")->with["value"], "Dr Lee");
  // Done in both: no condition. Done in one: explained by the choice before it.
  EXPECT_EQ(step_named(skill, "click_dismiss_tips")->when, "");
  const Step* signature = step_named(skill, "check_signature_required");
  ASSERT_NE(signature, nullptr) << notes;
  EXPECT_EQ(signature->when, "slots.delivery == \"express\"");
  ASSERT_EQ(skill.examples.size(), 1u);  // both instructions are phrased alike
  EXPECT_EQ(skill.examples[0], "order {qty} boxes of {item} for ward {ward}, {delivery} delivery");
  EXPECT_FALSE(has_note(*induced, "check:")) << notes;
  expect_round_trip(*induced, portal_actions());
}

TEST(Induce, ThreeDemonstrationsGivenBranchAndLeftOutStep) {
  auto induced = induce_skill(supply_demos(), named("order-supplies"));
  ASSERT_TRUE(induced) << induced.error().message;
  const Skill& skill = induced->skill;
  std::string notes = all_notes(*induced);
  // Dismissed in o1 (express) and o2 (standard), not in o3 (express): nothing
  // tells when, so it is left out with a note.
  EXPECT_EQ(step_named(skill, "click_dismiss_tips"), nullptr) << notes;
  EXPECT_TRUE(has_note(*induced,
                       "step click_dismiss_tips (portal.click) left out: done in o1, o2 "
                       "but not in o3"))
      << notes;
  const Step* signature = step_named(skill, "check_signature_required");
  ASSERT_NE(signature, nullptr) << notes;
  EXPECT_EQ(signature->when, "slots.delivery == \"express\"");
  // Notes only when the instruction gave them: an optional slot.
  const SlotSpec* notes_slot = slot_named(skill, "notes");
  ASSERT_NE(notes_slot, nullptr) << notes;
  EXPECT_FALSE(notes_slot->required);
  const Step* fill_notes = step_named(skill, "fill_notes");
  ASSERT_NE(fill_notes, nullptr) << notes;
  EXPECT_EQ(fill_notes->when, "slots.notes ~= nil and slots.notes ~= \"\"");
  EXPECT_EQ(fill_notes->with["value"], "${slots.notes}");
  ASSERT_EQ(skill.examples.size(), 2u);
  EXPECT_EQ(skill.examples[1],
            "order {qty} boxes of {item} for ward {ward}, {delivery} delivery, notes: {notes}");
  EXPECT_FALSE(has_note(*induced, "check:")) << notes;
  expect_round_trip(*induced, portal_actions());

  Sandbox sandbox;
  auto runs = sandbox.test(signature->when, {{"slots", {{"delivery", "standard"}}}});
  ASSERT_TRUE(runs);
  EXPECT_FALSE(*runs);
}

DemoStep pick_time(const std::string& time, double y) {
  DemoStep step;
  step.action = "portal.click";
  Json target = {{"role", "radio"},
                 {"name", time},
                 {"tag", "input"},
                 {"type", "radio"},
                 {"name_attr", "slot"},
                 {"id", "slot-" + time.substr(0, 2) + time.substr(3)},
                 {"dom_path", "html/body/main/table/tr[" + std::to_string(int(y) / 10) + "]/td"},
                 {"x", 40},
                 {"y", y}};
  step.with = {{"target", target}};
  return step;
}

TEST(Induce, AnElementNamedByAValueIsFoundByASlot) {
  auto booking = [](const std::string& id, const std::string& time, double y) {
    Demonstration demo =
        browser_demo(id, "book the scan at " + time,
                     {navigate("/schedule"), pick_time(time, y), click("Confirm")});
    return demo;
  };
  // Two demonstrations: one step, not two branches.
  auto induced =
      induce_skill({booking("a", "10:30", 120), booking("b", "11:45", 180)}, named("book"));
  ASSERT_TRUE(induced) << induced.error().message;
  std::string notes = all_notes(*induced);
  const Skill& skill = induced->skill;
  ASSERT_EQ(skill.steps.size(), 3u) << notes;
  const Step& pick = skill.steps[1];
  EXPECT_EQ(pick.id, "click_radio");
  EXPECT_EQ(pick.when, "");
  ASSERT_NE(slot_named(skill, "time"), nullptr) << notes;
  const Json& target = pick.with["target"];
  EXPECT_EQ(target["name"], "${slots.time}");
  EXPECT_EQ(target["role"], "radio");
  EXPECT_EQ(target["name_attr"], "slot");
  EXPECT_EQ(target["x"], 40);           // the same in both
  EXPECT_FALSE(target.contains("id"));  // differs with the value
  EXPECT_FALSE(target.contains("y"));
  EXPECT_EQ(render(target, {{"time", "09:15"}})["name"], "09:15");
  EXPECT_EQ(skill.examples, std::vector<std::string>{"book the scan at {time}"});
  EXPECT_FALSE(has_note(*induced, "check:")) << notes;
  expect_round_trip(*induced, portal_actions());

  // One demonstration: what depends on which element it was is left out.
  auto one = induce_skill({booking("a", "10:30", 120)}, named("book"));
  ASSERT_TRUE(one) << one.error().message;
  const Json& single = one->skill.steps[1].with["target"];
  EXPECT_EQ(single["name"], "${slots.time}");
  for (const char* gone : {"id", "x", "y", "dom_path"}) EXPECT_FALSE(single.contains(gone)) << gone;
  EXPECT_EQ(single["type"], "radio");
  // A button whose name is an ordinary word of the instruction stays as it is.
  Demonstration search = browser_demo("s", "search for gloves", {click("Search")});
  auto plain = induce_skill({search}, named("search"));
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->skill.steps[1].with["target"]["name"], "Search");
}

TEST(Induce, RefusesWhatCannotBeOneSkill) {
  Demonstration browser = browser_demo("b", "do it", {click("Go")});
  Demonstration api = api_demo("a", "do it", {call("cloud.get_bill", Json::object(), {})});
  auto kinds = induce_skill({browser, api}, named("x"));
  ASSERT_FALSE(kinds);
  EXPECT_EQ(kinds.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(kinds.error().message.find("different kinds"), std::string::npos);

  Demonstration other = browser;
  other.id = "c";
  other.connector = "shop";
  other.steps = {click("Go")};
  other.steps[0].action = "shop.click";
  auto connectors = induce_skill({browser, other}, named("x"));
  ASSERT_FALSE(connectors);
  EXPECT_NE(connectors.error().message.find("different connectors"), std::string::npos);

  Demonstration unrelated = browser_demo("u", "something else", {click("Delete account")});
  browser.start_url = unrelated.start_url = "";
  auto nothing = induce_skill({browser, unrelated}, named("x"));
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(nothing.error().message.find("no step in common"), std::string::npos);

  auto none = induce_skill({}, named("x"));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kInvalidInput);
  auto bad_name = induce_skill({browser}, named("Bad Name"));
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, ErrorCode::kInvalidInput);
}

// ---------------------------------------------------------------------------
// API demonstrations.

Json instances(const std::vector<std::pair<std::string, std::string>>& list) {
  Json out = Json::array();
  for (const auto& [id, name] : list) {
    std::string env = name.find("prod") != std::string::npos ? "prod" : "dev";
    out.push_back({{"id", id}, {"name", name}, {"state", "running"}, {"tags", {{"env", env}}}});
  }
  return {{"instances", out}};
}

Demonstration stop_demo(const std::string& id, const std::string& name,
                        const std::string& instance_id, const std::string& budget_text,
                        double budget) {
  return api_demo(
      id, "stop instance " + name + " and set the dev budget to " + budget_text,
      {call("cloud.get_account", Json::object(), {{"account", "acct-7781"}, {"plan", "team"}}),
       call("cloud.list_instances", {{"env", "dev"}},
            instances({{"i-0a1b2c", "web-dev-1"}, {instance_id, name}, {"i-9f9f9f", "db-dev"}})),
       call("cloud.stop_instance", {{"id", instance_id}, {"env", "dev"}, {"reason", "cost"}},
            {{"id", instance_id}, {"state", "stopped"}}),
       call("cloud.set_budget", {{"account", "acct-7781"}, {"env", "dev"}, {"amount", budget}},
            {{"ok", true}})});
}

TEST(Induce, ApiLookupByASlotAndResultReferences) {
  auto induced =
      induce_skill({stop_demo("s1", "web-dev-2", "i-0a1000", "$1,200", 1200)}, named("stop"));
  ASSERT_TRUE(induced) << induced.error().message;
  const Skill& skill = induced->skill;
  std::string notes = all_notes(*induced);
  const SlotSpec* name = slot_named(skill, "instance_name");
  ASSERT_NE(name, nullptr) << notes;
  EXPECT_EQ(name->type, SlotType::kCode);  // "web-dev-2" reads as a code
  const SlotSpec* amount = slot_named(skill, "amount");
  ASSERT_NE(amount, nullptr) << notes;
  EXPECT_EQ(amount->type, SlotType::kMoney);

  const Step* find = step_named(skill, "find_instance");
  ASSERT_NE(find, nullptr) << notes;
  EXPECT_EQ(find->kind, StepKind::kCompute);
  EXPECT_EQ(find->needs, std::vector<std::string>{"list_instances"});
  const Step* stop = step_named(skill, "stop_instance");
  ASSERT_NE(stop, nullptr);
  EXPECT_EQ(stop->with["id"], "${steps.find_instance.result.id}");
  EXPECT_EQ(stop->with["reason"], "cost");
  // "dev" is in the instruction, but the instance found says what its env
  // is: the service's value, so a policy on it sees the truth.
  EXPECT_EQ(stop->with["env"], "${steps.find_instance.result.tags.env}");
  EXPECT_EQ(stop->needs, std::vector<std::string>{"find_instance"});
  const Step* budget = step_named(skill, "set_budget");
  ASSERT_NE(budget, nullptr);
  EXPECT_EQ(budget->with["account"], "${steps.get_account.result.account}");
  EXPECT_EQ(budget->with["amount"], "${slots.amount}");
  // "dev" is in the instruction too: the environment is a slot, for both calls.
  EXPECT_EQ(budget->with["env"], "${slots.env}");
  EXPECT_EQ(step_named(skill, "list_instances")->with["env"], "${slots.env}");
  ASSERT_NE(slot_named(skill, "env"), nullptr);
  EXPECT_EQ(skill.slots.size(), 3u) << notes;
  EXPECT_EQ(skill.examples[0],
            "stop instance {instance_name} and set the {env} budget to {amount}");
  EXPECT_FALSE(has_note(*induced, "check:")) << notes;

  // Run against another list: the lookup finds the instance by name.
  Sandbox sandbox;
  Json env = {{"slots", {{"instance_name", "db-dev"}, {"amount", 50}, {"env", "dev"}}},
              {"steps",
               {{"list_instances",
                 {{"result", instances({{"i-111111", "web"}, {"i-222222", "db-dev"}})}}}}}};
  auto found = sandbox.run(find->compute, env);
  ASSERT_TRUE(found) << found.error().message;
  env["steps"]["find_instance"] = {{"result", *found}};
  auto args = sandbox.render(stop->with, env);
  ASSERT_TRUE(args);
  EXPECT_EQ((*args)["id"], "i-222222");
  EXPECT_EQ((*args)["env"], "dev");
  EXPECT_EQ(render(budget->with["amount"], env["slots"]), 50);

  // Asked to stop a production instance "in dev", it says prod.
  env["slots"]["instance_name"] = "web-prod";
  env["steps"]["list_instances"]["result"] = instances({{"i-333333", "web-prod"}});
  found = sandbox.run(find->compute, env);
  ASSERT_TRUE(found) << found.error().message;
  env["steps"]["find_instance"] = {{"result", *found}};
  args = sandbox.render(stop->with, env);
  ASSERT_TRUE(args);
  EXPECT_EQ((*args)["env"], "prod");

  expect_round_trip(*induced, {"cloud.get_account", "cloud.list_instances", "cloud.stop_instance",
                               "cloud.set_budget"});
}

TEST(Induce, ApiSeveralDemonstrationsAgreeOnTheLookup) {
  auto induced = induce_skill({stop_demo("s1", "web-dev-2", "i-0a1000", "$1,200", 1200),
                               stop_demo("s2", "batch-dev-9", "i-0c3000", "$300", 300)},
                              named("stop"));
  ASSERT_TRUE(induced) << induced.error().message;
  const Skill& skill = induced->skill;
  std::string notes = all_notes(*induced);
  EXPECT_EQ(skill.slots.size(), 3u) << notes;
  EXPECT_EQ(step_named(skill, "stop_instance")->with["id"], "${steps.find_instance.result.id}");
  EXPECT_EQ(skill.examples.size(), 1u);  // both phrased alike
  EXPECT_FALSE(has_note(*induced, "check:")) << notes;
}

TEST(Induce, FromDiskToADraftTheWorkspaceDoesNotPlanWith) {
  TempDir ws;
  write_file(ws.file("ergon.yaml"), R"(approvals: auto
connectors:
  cloud:
    kind: http
    base_url: http://127.0.0.1:9
    actions:
      get_account: {method: GET, path: /v1/account, effect: read}
      list_instances:
        method: GET
        path: /v1/instances
        query: [env]
        params: {type: object, properties: {env: {type: string}}}
        effect: read
      stop_instance:
        method: POST
        path: /v1/instances/{id}/stop
        params: {type: object, properties: {id: {type: string}, reason: {type: string}}}
        effect: write
      set_budget:
        method: PUT
        path: /v1/budget
        body: [account, env, amount]
        params:
          type: object
          properties: {account: {type: string}, env: {type: string}, amount: {type: number}}
        effect: write
)");
  ASSERT_TRUE(
      save_demonstration(ws.path(), stop_demo("s1", "web-dev-2", "i-0a1000", "$1,200", 1200)));
  auto demo = load_demonstration(ws.path(), "s1");
  ASSERT_TRUE(demo) << demo.error().message;
  auto induced = induce_skill({*demo}, named("stop-dev"));
  ASSERT_TRUE(induced) << induced.error().message;
  std::filesystem::create_directories(skill_drafts_dir(ws.path()));
  EXPECT_EQ(skill_drafts_dir(ws.path()), ws.file("skills/drafts"));
  write_file(ws.file("skills/drafts/stop-dev.yaml"), skill_to_yaml(induced->skill, induced->notes));
  // Even a broken draft does not stop the workspace from loading.
  write_file(ws.file("skills/drafts/broken.yaml"), "name: [\n");
  auto workspace = load_workspace(ws.path());
  ASSERT_TRUE(workspace) << workspace.error().message;
  EXPECT_TRUE(workspace->skills.empty());
  auto draft = load_skill_file(ws.file("skills/drafts/stop-dev.yaml"));
  ASSERT_TRUE(draft) << draft.error().message;
  Plan plan = plan_from_skill(*draft, "stop web-1", Json::object());
  EXPECT_TRUE(validate_plan(plan, workspace->action_names()));
  // Accepted, it is planned with.
  write_file(ws.file("skills/stop-dev.yaml"), skill_to_yaml(induced->skill, induced->notes));
  workspace = load_workspace(ws.path());
  ASSERT_TRUE(workspace) << workspace.error().message;
  ASSERT_EQ(workspace->skills.size(), 1u);
  EXPECT_EQ(workspace->skills[0].name, "stop-dev");
}

TEST(Induce, MalformedDemonstrationsAreErrorsNotCrashes) {
  Demonstration demo = api_demo("x", "do 3 things", {call("cloud.do", {{"n", 3}}, nullptr)});
  demo.steps[0].with = Json::array({1, 2});
  auto array_with = induce_skill({demo}, named("x"));
  ASSERT_FALSE(array_with);
  EXPECT_EQ(array_with.error().code, ErrorCode::kInvalidInput);
  demo.steps[0].with = Json();  // null: no arguments
  EXPECT_TRUE(induce_skill({demo}, named("x")));
  Demonstration page = browser_demo("p", "x", {click("Go")});
  page.steps[0].with["target"] = {{"role", 5}};
  auto bad_target = induce_skill({page}, named("x"));
  ASSERT_FALSE(bad_target);
  EXPECT_EQ(bad_target.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(bad_target.error().message.find("target"), std::string::npos);
  // Odd but valid values: nested arguments, nulls, a literal "${", results of any shape.
  Demonstration odd =
      api_demo("o", "send a note to ops@example.com on 2027-02-30",
               {call("mail.list", Json::object(), Json::array({"a", nullptr, Json::array()})),
                call("mail.send",
                     {{"to", Json::array({"ops@example.com"})},
                      {"body", "${x}"},
                      {"meta", {{"tags", Json::array()}, {"n", nullptr}}},
                      {"when", "2027-02-30"}},
                     "sent")});
  auto induced = induce_skill({odd}, named("mail"));
  ASSERT_TRUE(induced) << induced.error().message;
  EXPECT_FALSE(has_note(*induced, "check:")) << all_notes(*induced);
  const Step* send = step_named(induced->skill, "send");
  ASSERT_NE(send, nullptr);
  EXPECT_EQ(send->with["body"], "$${x}");  // a literal, not a template
  EXPECT_EQ(send->with["to"][0], "${slots.to}");
  expect_round_trip(*induced, {"mail.list", "mail.send"});
}

// ---------------------------------------------------------------------------
// skill_to_yaml.

TEST(SkillYaml, HandWrittenSkillsRoundTrip) {
  for (const char* file : {"examples/care-portal/skills/book-mri.yaml",
                           "examples/cloud-cost/skills/reduce-cloud-spend.yaml"}) {
    auto skill = load_skill_file(std::string(ERGON_SOURCE_DIR) + "/" + file);
    ASSERT_TRUE(skill) << skill.error().message;
    TempDir dir;
    std::string yaml = skill_to_yaml(*skill, {"a note: with # and\nnewline"});
    EXPECT_TRUE(yaml.starts_with("# a note: with # and newline\n")) << yaml;
    write_file(dir.file("s.yaml"), yaml);
    auto again = load_skill_file(dir.file("s.yaml"));
    ASSERT_TRUE(again) << again.error().message << "\n" << yaml;
    EXPECT_EQ(again->name, skill->name);
    EXPECT_EQ(again->description, skill->description);
    EXPECT_EQ(again->examples, skill->examples);
    ASSERT_EQ(again->slots.size(), skill->slots.size());
    for (size_t i = 0; i < skill->slots.size(); ++i) {
      EXPECT_EQ(to_json(again->slots[i]), to_json(skill->slots[i]));
    }
    ASSERT_EQ(again->steps.size(), skill->steps.size());
    for (size_t i = 0; i < skill->steps.size(); ++i) {
      Step a = again->steps[i], b = skill->steps[i];
      a.loc = b.loc = {};
      EXPECT_EQ(to_json(a), to_json(b)) << yaml;
    }
  }
}

TEST(SkillYaml, TrickyValuesKeepTheirTypes) {
  Skill skill;
  skill.name = "tricky";
  skill.examples = {"do {n}"};
  SlotSpec n;
  n.name = "n";
  n.type = SlotType::kEnum;
  n.choices = {"70551", "true", "null", "a: b"};
  n.default_value = Json("70551");
  skill.slots = {n};
  Step step;
  step.id = "s";
  step.action = "x.y";
  step.with = {{"a", "72148"},      {"b", "true"},           {"c", 1.5},
               {"d", "${slots.n}"}, {"e", "line1\n  line2"}, {"f", "trailing\n"},
               {"g", " lead"},      {"h", Json::array()},    {"i", {{"k", nullptr}}},
               {"j", "#hash"},      {"k", "x: y"},           {"l", "$${literal}"},
               {"m", "007"}};
  step.when = "slots.n == \"70551\"";
  step.on_fail = OnFail::kRetry;
  skill.steps = {step};
  Step compute;
  compute.id = "c";
  compute.kind = StepKind::kCompute;
  compute.compute = "local x = 1\nreturn x";  // no trailing newline
  compute.needs = {"s"};
  skill.steps.push_back(compute);
  TempDir dir;
  std::string yaml = skill_to_yaml(skill);
  write_file(dir.file("s.yaml"), yaml);
  auto again = load_skill_file(dir.file("s.yaml"));
  ASSERT_TRUE(again) << again.error().message << "\n" << yaml;
  EXPECT_EQ(to_json(again->slots[0]), to_json(skill.slots[0])) << yaml;
  for (size_t i = 0; i < 2; ++i) {
    Step a = again->steps[i];
    a.loc = {};
    EXPECT_EQ(to_json(a), to_json(skill.steps[i])) << yaml;
  }
}

}  // namespace
}  // namespace ergon
