// The engine's own cost of one agent turn on a large page: a generated,
// seeded 5,000-element page (forms, tables, links, buttons, headings, as a
// PageSnapshot, described by describe() with one Fingerprint per element).
//
// One turn here is what ergon does around the model call: agent_messages()
// (the prompt), chat_request_body() (the request the client posts),
// parse_agent_answer() of a typical answer (JSON, answer schema, the action's
// parameter schema, the element's fingerprint as target) and the
// LoopDetector. The model's latency and the HTTP exchange are not included.
//
// Printed before the benchmarks run: the median and 90th percentile of a
// whole turn over --turns turns (target: median <= 5 ms), and the prompt's
// size. Then Google Benchmark times each piece.
//
//   agent_bench [--elements=N] [--seed=S] [--turns=N] [benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ergon/agent.h"
#include "ergon/browser.h"
#include "ergon/grounding.h"
#include "ergon/model.h"

namespace {

using ergon::Json;

size_t g_elements = 5000;
unsigned g_seed = 20270304;
size_t g_turns = 200;

const std::vector<std::string> kWords = {
    "patient", "claim",   "invoice", "provider", "referral", "appointment", "coverage",
    "member",  "policy",  "payment", "balance",  "schedule", "approval",    "history",
    "account", "billing", "report",  "network",  "document", "contact",     "address",
    "status",  "service", "plan",    "summary",  "record",   "request",     "notes"};
const std::vector<std::string> kVerbs = {"Submit", "Save",   "Cancel", "Search", "Edit",
                                         "Delete", "Export", "Review", "Book",   "Next"};
const std::vector<std::string> kNames = {"Dana Reyes", "Lee Park",   "Sam Ortiz", "Ari Cohen",
                                         "Kim Nguyen", "Jo Martins", "Ravi Shah", "Eva Novak"};

struct Page {
  ergon::PageSnapshot snapshot;
  Json observation;
};

// A realistic page: a navigation bar, then sections with a heading, a form
// (labels, text fields, selects, checkboxes, buttons) and a table of rows with
// cells, a link and a button each.
Page make_page(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  auto pick = [&](const std::vector<std::string>& list) -> const std::string& {
    return list[std::uniform_int_distribution<size_t>(0, list.size() - 1)(rng)];
  };
  Page page;
  ergon::PageSnapshot& snap = page.snapshot;
  snap.url = "https://portal.example.test/members/search?page=3";
  snap.title = "Member search — Care Portal";
  double y = 0;
  int section = 0, row = 0, field = 0;
  auto add = [&](const std::string& tag, const std::string& role, const std::string& name,
                 const std::string& dom_path) -> ergon::PageElement& {
    ergon::PageElement e;
    e.index = static_cast<int>(snap.elements.size());
    e.backend_node_id = 1000 + e.index;
    e.fp.tag = tag;
    e.fp.role = role;
    e.fp.name = name;
    e.fp.text = role == "textbox" || role == "combobox" ? "" : name;
    e.fp.dom_path = dom_path;
    e.fp.x = 16 + (e.index % 7) * 120;
    e.fp.y = y;
    e.fp.width = 110;
    e.fp.height = 24;
    e.visible = e.index % 23 != 0;
    e.interactive = role != "heading" && role != "cell" && tag != "label";
    snap.elements.push_back(std::move(e));
    y += 12;
    return snap.elements.back();
  };
  for (const std::string& w : kWords) {
    if (snap.elements.size() >= count) break;
    std::string name = w + "s";
    name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    ergon::PageElement& link =
        add("a", "link", name, "html/body/nav/ul/li[" + std::to_string(field++) + "]/a");
    link.fp.href = "/" + w + "s";
  }
  while (snap.elements.size() < count) {
    std::string base = "html/body/main/section[" + std::to_string(++section) + "]";
    add("h2", "heading", pick(kWords) + " " + pick(kWords) + " " + std::to_string(section),
        base + "/h2");
    for (int f = 0; f < 6 && snap.elements.size() < count; ++f) {
      std::string label = pick(kWords) + " " + pick(kWords);
      label[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(label[0])));
      std::string at = base + "/form/div[" + std::to_string(f + 1) + "]";
      add("label", "LabelText", label, at + "/label");
      if (f % 3 == 2) {
        ergon::PageElement& select = add("select", "combobox", label, at + "/select");
        select.options = {"Any", "Active", "Pending", "Closed", "Denied", "Appealed"};
        select.value = "Any";
        select.fp.name_attr = "status_" + std::to_string(field);
      } else if (f % 3 == 1) {
        ergon::PageElement& box = add("input", "checkbox", label, at + "/input");
        box.fp.type = "checkbox";
        box.checked = f % 2 == 0;
      } else {
        ergon::PageElement& text = add("input", "textbox", label, at + "/input");
        text.editable = true;
        text.fp.type = "text";
        text.fp.placeholder = "Enter " + label;
        text.fp.id = "field-" + std::to_string(field++);
        if (field % 4 == 0) text.value = pick(kNames);
      }
    }
    if (snap.elements.size() < count) {
      ergon::PageElement& submit =
          add("button", "button", pick(kVerbs) + " " + pick(kWords), base + "/form/button");
      submit.enabled = section % 9 != 0;
      submit.fp.classes = "btn btn-primary";
    }
    for (int r = 0; r < 12 && snap.elements.size() < count; ++r) {
      std::string at = base + "/table/tbody/tr[" + std::to_string(r + 1) + "]";
      ++row;
      add("td", "cell", "MBR-" + std::to_string(100000 + row * 37), at + "/td[1]");
      add("td", "cell", pick(kNames), at + "/td[2]");
      add("td", "cell", "2027-0" + std::to_string(1 + row % 9) + "-1" + std::to_string(row % 10),
          at + "/td[3]");
      ergon::PageElement& open =
          add("a", "link", "Open " + pick(kWords) + " " + std::to_string(row), at + "/td[4]/a");
      open.fp.href = "/members/" + std::to_string(row);
      add("button", "button", pick(kVerbs), at + "/td[5]/button").fp.aria_label =
          pick(kVerbs) + " row " + std::to_string(row);
    }
  }
  snap.elements.resize(count);
  for (ergon::PageElement& e : snap.elements) {
    if (e.index > 0) e.fp.neighbor_text = snap.elements[e.index - 1].fp.name;
  }
  Json targets = Json::array();
  for (const ergon::PageElement& e : snap.elements) targets.push_back(ergon::to_json(e.fp));
  page.observation = {{"url", snap.url},
                      {"title", snap.title},
                      {"elements", ergon::describe(snap)},
                      {"targets", std::move(targets)}};
  return page;
}

// The state of turn 14 of a task: 13 turns of history, a few approved actions.
struct Turn {
  std::vector<ergon::ActionSpec> specs = ergon::browser_actions("portal");
  std::vector<const ergon::ActionSpec*> actions;
  ergon::AgentState state;
  Page page;
  Json answer_schema;
  ergon::ModelConfig config;
  std::string answer;

  Turn() : page(make_page(g_elements, g_seed)) {
    for (const ergon::ActionSpec& spec : specs) actions.push_back(&spec);
    answer_schema = ergon::agent_answer_schema(actions);
    state.goal = "Find member Dana Reyes and open her most recent claim";
    state.plan_goal = "Appeal Dana Reyes's denied MRI claim";
    state.actions = &actions;
    state.allow = {"portal.click", "portal.fill", "portal.scroll", "portal.extract"};
    state.secrets = {"portal_password"};
    state.step = 14;
    state.max_steps = 30;
    for (int i = 1; i <= 13; ++i) {
      ergon::AgentTurn turn;
      turn.index = i;
      turn.action = i % 3 == 0 ? "portal.fill" : "portal.click";
      turn.element = (i * 389) % static_cast<int>(g_elements);
      turn.args = {{"target", page.observation["targets"][static_cast<size_t>(turn.element)]}};
      if (i % 3 == 0) turn.args["value"] = "Dana Reyes";
      turn.ok = i % 5 != 0;
      turn.outcome = turn.ok ? "done" : "element is covered by another element (a dialog)";
      turn.thought = "The search form needs the member's name before the results narrow down";
      state.history.push_back(turn);
    }
    config.model = "qwen2.5-7b-instruct";
    int element = static_cast<int>(g_elements * 2 / 3);
    answer =
        "{\"thought\": \"The row for Dana Reyes has an Open link for her latest claim\", "
        "\"action\": \"click\", \"element\": " +
        std::to_string(element) + "}";
  }

  // One turn's work; returns something that depends on all of it.
  size_t run(ergon::LoopDetector& loops) const {
    ergon::ChatRequest request;
    request.messages = ergon::agent_messages(state, page.observation);
    request.response_format = ergon::ResponseFormat{"agent_answer", answer_schema, true};
    request.purpose = "agent";
    Json body = ergon::chat_request_body(request, config);
    auto decision = ergon::parse_agent_answer(answer, state, page.observation);
    if (!decision) {
      std::fprintf(stderr, "typical answer rejected: %s\n", decision.error().message.c_str());
      std::exit(1);
    }
    bool loop = loops.record(page.observation, decision->call);
    return body["messages"][1]["content"].get_ref<const std::string&>().size() +
           decision->call.args.size() + (loop ? 1 : 0);
  }
};

const Turn& turn() {
  static const Turn* t = new Turn();
  return *t;
}

void print_numbers() {
  const Turn& t = turn();
  auto messages = ergon::agent_messages(t.state, t.page.observation);
  size_t prompt = messages[0].content.size() + messages[1].content.size();
  std::printf("page: %zu elements, element list %zu bytes, prompt %zu bytes (~%zu tokens)\n",
              t.page.snapshot.elements.size(),
              t.page.observation["elements"].get_ref<const std::string&>().size(), prompt,
              prompt / 4);
  std::vector<double> ms;
  ergon::LoopDetector loops;
  size_t sink = 0;
  for (size_t i = 0; i < g_turns; ++i) {
    auto start = std::chrono::steady_clock::now();
    sink += t.run(loops);
    auto end = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "one agent turn over %zu turns: median %.3f ms, p90 %.3f ms (target: median <= 5 ms)"
      " [%zu]\n",
      ms.size(), ms[ms.size() / 2], ms[ms.size() * 9 / 10], sink % 10);
}

void BM_AgentTurn(benchmark::State& bench) {
  const Turn& t = turn();
  ergon::LoopDetector loops;
  for (auto _ : bench) benchmark::DoNotOptimize(t.run(loops));
}
BENCHMARK(BM_AgentTurn)->Unit(benchmark::kMillisecond);

void BM_AgentMessages(benchmark::State& bench) {
  const Turn& t = turn();
  for (auto _ : bench) benchmark::DoNotOptimize(ergon::agent_messages(t.state, t.page.observation));
}
BENCHMARK(BM_AgentMessages)->Unit(benchmark::kMicrosecond);

void BM_ChatRequestBody(benchmark::State& bench) {
  const Turn& t = turn();
  ergon::ChatRequest request;
  request.messages = ergon::agent_messages(t.state, t.page.observation);
  request.response_format = ergon::ResponseFormat{"agent_answer", t.answer_schema, true};
  for (auto _ : bench) benchmark::DoNotOptimize(ergon::chat_request_body(request, t.config));
}
BENCHMARK(BM_ChatRequestBody)->Unit(benchmark::kMicrosecond);

// Not part of the turn above: the client serialises the body before it posts it.
void BM_RequestBodyDump(benchmark::State& bench) {
  const Turn& t = turn();
  ergon::ChatRequest request;
  request.messages = ergon::agent_messages(t.state, t.page.observation);
  Json body = ergon::chat_request_body(request, t.config);
  for (auto _ : bench) benchmark::DoNotOptimize(body.dump());
}
BENCHMARK(BM_RequestBodyDump)->Unit(benchmark::kMicrosecond);

void BM_ParseAgentAnswer(benchmark::State& bench) {
  const Turn& t = turn();
  for (auto _ : bench) {
    benchmark::DoNotOptimize(ergon::parse_agent_answer(t.answer, t.state, t.page.observation));
  }
}
BENCHMARK(BM_ParseAgentAnswer)->Unit(benchmark::kMicrosecond);

void BM_LoopDetector(benchmark::State& bench) {
  const Turn& t = turn();
  ergon::LoopDetector loops;
  ergon::ActionCall call;
  call.action = "portal.click";
  call.args = {{"target", t.page.observation["targets"][42]}};
  for (auto _ : bench) benchmark::DoNotOptimize(loops.record(t.page.observation, call));
}
BENCHMARK(BM_LoopDetector)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--elements=", 11) == 0) {
      g_elements = std::max<size_t>(1, std::strtoul(argv[i] + 11, nullptr, 10));
    } else if (std::strncmp(argv[i], "--seed=", 7) == 0) {
      g_seed = static_cast<unsigned>(std::strtoul(argv[i] + 7, nullptr, 10));
    } else if (std::strncmp(argv[i], "--turns=", 8) == 0) {
      g_turns = std::max<size_t>(1, std::strtoul(argv[i] + 8, nullptr, 10));
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  print_numbers();
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
