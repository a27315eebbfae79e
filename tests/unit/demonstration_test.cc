#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "ergon/learn.h"
#include "support/process.h"

namespace ergon {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

Demonstration browser_demo() {
  Demonstration demo;
  demo.id = "book-mri-1";
  demo.instruction = "book an MRI 72148 for Jane Doe (MBR-123456) on 2027-03-04";
  demo.kind = "browser";
  demo.connector = "portal";
  demo.start_url = "http://127.0.0.1:4000/login";
  demo.recorded = "2026-12-03T07:00:00Z";
  DemoStep password;
  password.action = "portal.fill";
  password.with = {{"target", {{"role", "textbox"}, {"name", "Password"}, {"id", "password"}}},
                   {"secret", "CARE_PORTAL_PASSWORD"}};
  demo.steps.push_back(password);
  DemoStep fill;
  fill.action = "portal.fill";
  fill.with = {{"target",
                {{"role", "textbox"},
                 {"name", "Member ID"},
                 {"tag", "input"},
                 {"id", "member-id"},
                 {"name_attr", "member_id"},
                 {"neighbor_text", "Member ID: (as on the card)"},
                 {"x", 12.5},
                 {"y", 300}}},
               {"value", "MBR-123456"}};
  fill.page_before = "02-before.json";
  fill.page_after = "02-after.json";
  fill.url_after = "http://127.0.0.1:4000/preauth/new";
  demo.steps.push_back(fill);
  DemoStep select;
  select.action = "portal.select";
  select.with = {{"target", {{"role", "combobox"}, {"name", "Procedure (CPT)"}}},
                 {"option", "72148"}};  // a string that looks like a number
  demo.steps.push_back(select);
  DemoStep notes;
  notes.action = "portal.fill";
  notes.with = {{"target", {{"role", "textbox"}, {"name", "Notes"}}},
                {"value", "line one\n  indented: yes\nlast"}};
  demo.steps.push_back(notes);
  DemoStep check;
  check.action = "portal.check";
  check.with = {{"target", {{"role", "checkbox"}, {"name", "true"}}}, {"checked", true}};
  demo.steps.push_back(check);
  return demo;
}

TEST(Demonstration, BrowserRoundTrip) {
  TempDir ws;
  Demonstration demo = browser_demo();
  ASSERT_TRUE(save_demonstration(ws.path(), demo));
  std::string text = read_file(ws.file("demonstrations/book-mri-1.yaml"));
  EXPECT_NE(text.find("instruction: book an MRI 72148"), std::string::npos) << text;
  EXPECT_NE(text.find("target: {role: textbox, name: Member ID"), std::string::npos) << text;

  auto loaded = load_demonstration(ws.path(), "book-mri-1");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->id, demo.id);
  EXPECT_EQ(loaded->instruction, demo.instruction);
  EXPECT_EQ(loaded->kind, "browser");
  EXPECT_EQ(loaded->connector, "portal");
  EXPECT_EQ(loaded->start_url, demo.start_url);
  EXPECT_EQ(loaded->recorded, demo.recorded);
  ASSERT_EQ(loaded->steps.size(), demo.steps.size());
  for (size_t i = 0; i < demo.steps.size(); ++i) {
    EXPECT_EQ(loaded->steps[i].action, demo.steps[i].action) << i;
    EXPECT_EQ(loaded->steps[i].with, demo.steps[i].with) << i;
    EXPECT_EQ(loaded->steps[i].page_before, demo.steps[i].page_before) << i;
    EXPECT_EQ(loaded->steps[i].page_after, demo.steps[i].page_after) << i;
    EXPECT_EQ(loaded->steps[i].url_after, demo.steps[i].url_after) << i;
    EXPECT_GT(loaded->steps[i].loc.line, 0) << i;
  }
  EXPECT_TRUE(loaded->steps[2].with["option"].is_string());
  EXPECT_TRUE(fs::path(loaded->file).is_absolute());
  // No temp file left behind.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(ws.file("demonstrations"))) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(Demonstration, ApiRoundTripKeepsResults) {
  TempDir ws;
  Demonstration demo;
  demo.id = "stop-web";
  demo.instruction = "stop web-dev-2";
  demo.kind = "api";
  DemoStep list;
  list.action = "cloud.list_instances";
  list.result = {{"instances",
                  {{{"id", "i-0a1"}, {"name", "web-dev-2"}, {"cpu", 0.5}, {"tags", Json::object()}},
                   {{"id", "i-0b2"}, {"name", "db"}, {"on", false}, {"note", nullptr}}}}};
  demo.steps.push_back(list);
  DemoStep stop;
  stop.action = "cloud.stop_instance";
  stop.with = {{"id", "i-0a1"}, {"count", 2}, {"ratio", 0.25}};
  stop.result = {{"ok", true}, {"code", "007"}};
  demo.steps.push_back(stop);
  ASSERT_TRUE(save_demonstration(ws.path(), demo));
  auto loaded = load_demonstration(ws.path(), "stop-web");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ(loaded->steps.size(), 2u);
  EXPECT_EQ(loaded->steps[0].result, list.result);
  EXPECT_EQ(loaded->steps[1].with, stop.with);
  EXPECT_EQ(loaded->steps[1].result, stop.result);
  EXPECT_EQ(loaded->connector, "");
}

TEST(Demonstration, EmptyStepsAndLoadAllSorted) {
  TempDir ws;
  Demonstration b;
  b.id = "b-demo";
  b.instruction = "do b";
  b.kind = "api";
  Demonstration a = b;
  a.id = "a-demo";
  a.instruction = "do a";
  ASSERT_TRUE(save_demonstration(ws.path(), b));
  ASSERT_TRUE(save_demonstration(ws.path(), a));
  auto all = load_demonstrations(ws.path());
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "a-demo");
  EXPECT_EQ((*all)[1].id, "b-demo");
  EXPECT_TRUE((*all)[0].steps.empty());

  TempDir empty;
  auto none = load_demonstrations(empty.path());
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

Result<Demonstration> load_text(const TempDir& ws, const std::string& text,
                                const std::string& id = "bad") {
  fs::create_directories(ws.file("demonstrations"));
  write_file(ws.file("demonstrations/" + id + ".yaml"), text);
  return load_demonstration(ws.path(), id);
}

TEST(Demonstration, SyntaxErrorNamesFileAndLine) {
  TempDir ws;
  auto demo = load_text(ws, "instruction: x\nkind: api\nsteps:\n  - do: a.b\n    with: {id: [1\n");
  ASSERT_FALSE(demo);
  EXPECT_EQ(demo.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(demo.error().message.find("demonstrations/bad.yaml:"), std::string::npos)
      << demo.error().message;
}

TEST(Demonstration, UnknownFieldsNameFileLineAndField) {
  TempDir ws;
  auto top = load_text(ws, "instruction: x\nkind: api\ninstructoin: y\nsteps: []\n");
  ASSERT_FALSE(top);
  EXPECT_EQ(top.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(top.error().message.find("demonstrations/bad.yaml:3: instructoin: unknown field"),
            std::string::npos)
      << top.error().message;
  EXPECT_NE(top.error().message.find("did you mean 'instruction'"), std::string::npos);

  auto step = load_text(ws,
                        "instruction: x\nkind: api\nsteps:\n  - do: cloud.list\n"
                        "  - do: cloud.stop\n    wiht: {id: 1}\n");
  ASSERT_FALSE(step);
  EXPECT_NE(step.error().message.find("demonstrations/bad.yaml:6: steps[1].wiht: unknown field"),
            std::string::npos)
      << step.error().message;
}

TEST(Demonstration, InvalidValuesAreExplained) {
  TempDir ws;
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const Case cases[] = {
      {"kind: api\nsteps: []\n", "bad.yaml:1: instruction: missing"},
      {"instruction: x\nkind: robot\n", "bad.yaml:2: kind: unknown kind 'robot'"},
      {"instruction: x\nkind: browser\nsteps: []\n", "connector: missing"},
      {"instruction: x\nkind: api\nsteps: {a: 1}\n", "bad.yaml:3: steps: expected a list"},
      {"instruction: x\nkind: api\nsteps:\n  - with: {a: 1}\n", "bad.yaml:4: steps[0].do: missing"},
      {"instruction: x\nkind: api\nsteps:\n  - do: stop\n", "not a qualified action"},
      {"instruction: x\nkind: api\nsteps:\n  - do: a.b\n    with: [1]\n",
       "bad.yaml:5: steps[0].with: expected a mapping"},
      {"instruction: x\nkind: browser\nconnector: portal\nsteps:\n  - do: portal.click\n"
       "    with:\n      target: {role: button, nmae: Go}\n",
       "bad.yaml:7: steps[0].with.target: unknown field 'nmae'"},
      {"instruction: x\nkind: browser\nconnector: portal\nsteps:\n  - do: portal.fill\n"
       "    with:\n      target: {role: textbox}\n      secret: PW\n      value: hunter2\n",
       "bad.yaml:9: steps[0].with.value: a step with a secret never holds the typed value"},
      {"instruction: x\nkind: browser\nconnector: portal\nsteps:\n  - do: other.click\n",
       "not an action of connector 'portal'"},
      {"instruction: x\nkind: browser\nconnector: portal\nsteps:\n  - do: portal.click\n"
       "    before: ../../etc/passwd\n",
       "bad.yaml:6: steps[0].before: '../../etc/passwd' is not a page file name"},
      {"instruction: x\nkind: api\nsteps:\n  - do: a.b\n    before: 01-before.json\n",
       "only browser demonstrations record pages"},
      {"- just\n- a list\n", "bad.yaml:1: expected a demonstration"},
  };
  for (const Case& c : cases) {
    auto demo = load_text(ws, c.yaml);
    ASSERT_FALSE(demo) << c.yaml;
    EXPECT_EQ(demo.error().code, ErrorCode::kInvalidInput) << c.yaml;
    EXPECT_NE(demo.error().message.find(c.expected), std::string::npos)
        << "yaml:\n"
        << c.yaml << "\nmessage: " << demo.error().message;
  }
}

TEST(Demonstration, BadIdsAreRejected) {
  TempDir ws;
  for (std::string id : {"", "Upper", "-lead", "a/b", "../x", "a b", "a_b", "a.b"}) {
    auto loaded = load_demonstration(ws.path(), id);
    ASSERT_FALSE(loaded) << id;
    EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidInput) << id;
    Demonstration demo;
    demo.id = id;
    demo.instruction = "x";
    demo.kind = "api";
    auto saved = save_demonstration(ws.path(), demo);
    ASSERT_FALSE(saved) << id;
    EXPECT_EQ(saved.error().code, ErrorCode::kInvalidInput) << id;
    EXPECT_FALSE(save_demo_page(ws.path(), id, "01-before.json", DemoPage{})) << id;
  }
  EXPECT_FALSE(fs::exists(ws.file("demonstrations")));
  auto missing = load_demonstration(ws.path(), "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(Demonstration, NewIds) {
  TempDir ws;
  EXPECT_EQ(new_demonstration_id(ws.path()), "demo-1");
  EXPECT_EQ(new_demonstration_id(ws.path(), "Book MRI: Jane!"), "book-mri-jane");
  Demonstration demo;
  demo.id = "demo-1";
  demo.instruction = "x";
  demo.kind = "api";
  ASSERT_TRUE(save_demonstration(ws.path(), demo));
  EXPECT_EQ(new_demonstration_id(ws.path()), "demo-2");
  EXPECT_EQ(new_demonstration_id(ws.path(), "demo-1"), "demo-2");  // taken
  EXPECT_EQ(new_demonstration_id(ws.path(), "!!!"), "demo-2");     // nothing left
}

TEST(Demonstration, PagesRoundTripAndErrors) {
  TempDir ws;
  DemoPage page;
  page.url = "http://127.0.0.1:4000/login";
  page.title = "Sign in";
  Fingerprint user;
  user.tag = "input";
  user.role = "textbox";
  user.name = "Username";
  user.x = 10;
  user.y = 20.5;
  Fingerprint button;
  button.tag = "button";
  button.name = "Sign in";
  page.elements = {user, button};
  page.target = 1;
  ASSERT_TRUE(save_demo_page(ws.path(), "d1", "01-before.json", page));
  EXPECT_TRUE(fs::exists(ws.file("demonstrations/d1/pages/01-before.json")));
  auto loaded = load_demo_page(ws.path(), "d1", "01-before.json");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->url, page.url);
  EXPECT_EQ(loaded->title, page.title);
  EXPECT_EQ(loaded->target, 1);
  ASSERT_EQ(loaded->elements.size(), 2u);
  EXPECT_EQ(to_json(loaded->elements[0]), to_json(user));
  EXPECT_EQ(to_json(loaded->elements[1]), to_json(button));

  EXPECT_FALSE(save_demo_page(ws.path(), "d1", "../escape.json", page));
  EXPECT_FALSE(save_demo_page(ws.path(), "d1", "page.txt", page));

  auto missing = load_demo_page(ws.path(), "d1", "02-before.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  write_file(ws.file("demonstrations/d1/pages/03-before.json"),
             R"({"url": "x", "target": 5, "elements": [{"tag": "a"}]})");
  auto bad_target = load_demo_page(ws.path(), "d1", "03-before.json");
  ASSERT_FALSE(bad_target);
  EXPECT_NE(bad_target.error().message.find("demonstrations/d1/pages/03-before.json: target"),
            std::string::npos)
      << bad_target.error().message;
  write_file(ws.file("demonstrations/d1/pages/04-before.json"),
             R"({"elements": [{"tag": "a"}, {"rol": "button"}]})");
  auto bad_element = load_demo_page(ws.path(), "d1", "04-before.json");
  ASSERT_FALSE(bad_element);
  EXPECT_NE(bad_element.error().message.find("elements[1]"), std::string::npos)
      << bad_element.error().message;
  write_file(ws.file("demonstrations/d1/pages/05-before.json"), "{not json");
  auto not_json = load_demo_page(ws.path(), "d1", "05-before.json");
  ASSERT_FALSE(not_json);
  EXPECT_EQ(not_json.error().code, ErrorCode::kInvalidInput);
}

}  // namespace
}  // namespace ergon
