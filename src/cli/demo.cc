// `ergon demo`: starts the cloud-cost example's sample service (acme-cloud) on
// a free loopback port, runs the goal against it, verifies the effect in the
// service itself and prints a short report.
#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>

#include "cli/app.h"
#include "cli/console.h"
#include "ergon/planner.h"

extern char** environ;

namespace ergon::cli {
namespace {
namespace fs = std::filesystem;

fs::path self_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

// The sample service as a child process; stopped by the destructor.
class SampleService {
 public:
  ~SampleService() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }

  // Starts `binary` and waits for its "listening on HOST:PORT" line.
  Result<std::string> start(const std::string& binary, const std::vector<std::string>& flags,
                            const std::string& log_path) {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return fail(ErrorCode::kInternal, "pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    std::vector<std::string> args = {binary, "--port", "0"};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    out_ = pipe_fds[0];
    if (rc != 0) {
      pid_ = -1;
      return fail(ErrorCode::kNotFound,
                  "cannot start the sample service " + binary + " (build it with `make`)");
    }
    std::string buffer;
    char chunk[256];
    while (buffer.find('\n') == std::string::npos) {
      pollfd pfd{out_, POLLIN, 0};
      if (poll(&pfd, 1, 10000) <= 0) break;
      ssize_t n = read(out_, chunk, sizeof chunk);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    auto at = buffer.find("listening on ");
    if (at == std::string::npos) {
      return fail(ErrorCode::kUnavailable, "the sample service did not start; see " + log_path);
    }
    std::string address = buffer.substr(at + 13, buffer.find('\n', at) - at - 13);
    return "http://" + address;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

std::string random_token() {
  std::random_device device;
  return fmt::format("demo-{:016x}", (static_cast<uint64_t>(device()) << 32) | device());
}

Result<Json> read_action(Session& s, const std::string& action) {
  auto found = s.connectors.find(action);
  if (!found) return fail(found.error());
  return found->first->execute({action, Json::object(), ""});
}

// Instance id -> "size/state" for every production instance.
std::map<std::string, std::string> prod_fingerprint(const Json& instances) {
  std::map<std::string, std::string> out;
  for (const Json& i : instances.value("instances", Json::array())) {
    if (i.value("tags", Json::object()).value("env", "") == "prod") {
      out[i.value("id", "")] = i.value("size", "") + "/" + i.value("state", "");
    }
  }
  return out;
}

}  // namespace

int run_demo(const std::string& workspace_dir, const ApprovalChoice& choice, double target_pct) {
  fs::path dir =
      workspace_dir.empty() ? fs::path(ERGON_EXAMPLES_DIR) / "cloud-cost" : fs::path(workspace_dir);
  std::string token = random_token();
  setenv("ACME_CLOUD_TOKEN", token.c_str(), 1);
  fs::create_directories(dir / ".ergon");
  SampleService service;
  auto url = service.start((self_dir() / "acme_cloud").string(), {"--token", token},
                           (dir / ".ergon" / "acme-cloud.log").string());
  if (!url) return report_error(url.error());
  setenv("ACME_CLOUD_URL", url->c_str(), 1);
  std::cout << "acme-cloud (sample cloud provider) is running at " << *url << "\n\n";

  auto opened = open_session(dir.string(), choice, true);
  if (!opened) return report_error(opened.error());
  Session& s = **opened;

  auto bill_before = read_action(s, "cloud.get_bill");
  auto instances_before = read_action(s, "cloud.list_instances");
  if (!bill_before) return report_error(bill_before.error());
  if (!instances_before) return report_error(instances_before.error());

  std::string goal =
      fmt::format("Cut our monthly cloud spend by {:g}% without touching production", target_pct);
  SkillPlanner planner(s.workspace.skills, SkillPlannerOptions{}, &s.clock);
  auto plan = planner.plan(goal, Json::object());
  if (!plan) return report_error(plan.error());
  std::cout << "Goal: " << goal << "\n";
  print_plan(std::cout, *plan, s.workspace);
  std::cout << "\nRunning:\n";
  auto report = s.engine->start(*plan);
  if (!report) return report_error(report.error());
  std::cout << "\n";
  print_report(std::cout, *report);

  auto bill_after = read_action(s, "cloud.get_bill");
  auto instances_after = read_action(s, "cloud.list_instances");
  if (!bill_after) return report_error(bill_after.error());
  if (!instances_after) return report_error(instances_after.error());
  double before = bill_before->value("projected_monthly", 0.0);
  double after = bill_after->value("projected_monthly", 0.0);
  double drop = before > 0 ? 100.0 * (before - after) / before : 0;
  bool prod_untouched = prod_fingerprint(*instances_before) == prod_fingerprint(*instances_after);
  auto audit = verify_session(*s.store, report->session);

  std::cout << "\nVerified against acme-cloud:\n";
  std::cout << fmt::format(
      "  projected monthly bill ${:.2f} -> ${:.2f} ({:.1f}% lower; target {:g}%) {}\n", before,
      after, drop, target_pct, drop + 1e-9 >= target_pct ? "MET" : "NOT MET");
  std::cout << fmt::format("  production instances unchanged: {}\n", prod_untouched ? "yes" : "NO");
  std::cout << fmt::format("  journal: {} ({})\n", audit ? "chain intact" : audit.error().message,
                           report->head.substr(0, 16));
  std::cout << fmt::format("  audit it: ergon -w {} audit verify {}\n", dir.string(),
                           report->session);
  bool ok = report->status == SessionStatus::kDone && drop + 1e-9 >= target_pct && prod_untouched &&
            audit.has_value();
  if (report->status == SessionStatus::kWaiting) return kExitWaiting;
  return ok ? kExitOk : kExitFailed;
}

int run_care_demo(const std::string& workspace_dir, const ApprovalChoice& choice,
                  const std::string& layout) {
  fs::path dir = workspace_dir.empty() ? fs::path(ERGON_EXAMPLES_DIR) / "care-portal"
                                       : fs::path(workspace_dir);
  std::string password = random_token();
  setenv("CARE_PORTAL_PASSWORD", password.c_str(), 1);
  fs::create_directories(dir / ".ergon");
  SampleService service;
  auto url = service.start((self_dir() / "care_portal").string(), {"--layout", layout},
                           (dir / ".ergon" / "care-portal.log").string());
  if (!url) return report_error(url.error());
  setenv("CARE_PORTAL_URL", url->c_str(), 1);
  std::cout << "CarePoint (sample provider portal, layout " << layout << ") is running at " << *url
            << "\n\n";

  auto opened = open_session(dir.string(), choice, true);
  if (!opened) return report_error(opened.error());
  Session& s = **opened;

  // A week from today, so the portal's "no dates in the past" always holds.
  auto day = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) +
             std::chrono::days(7);
  std::chrono::year_month_day ymd(day);
  std::string date =
      fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  std::string goal =
      "Get Jane Doe's lumbar spine MRI (CPT 72148, member MBR-123456) "
      "pre-authorised and booked in-network on " +
      date;
  Json slots = {{"patient", "Jane Doe"},
                {"member_id", "MBR-123456"},
                {"cpt_code", "72148"},
                {"preferred_date", date}};
  SkillPlanner planner(s.workspace.skills, SkillPlannerOptions{}, &s.clock);
  auto plan = planner.plan(goal, slots);
  if (!plan) return report_error(plan.error());
  std::cout << "Goal: " << goal << "\n";
  print_plan(std::cout, *plan, s.workspace);
  std::cout << "\nRunning (a real Chromium, headless):\n";
  auto report = s.engine->start(*plan);
  if (!report) return report_error(report.error());
  std::cout << "\n";
  print_report(std::cout, *report);

  httplib::Client portal(*url);
  auto answer = portal.Get("/_control/state");
  if (!answer || answer->status != 200) {
    return report_error({ErrorCode::kUnavailable, "cannot read the portal's state"});
  }
  Json state = Json::parse(answer->body, nullptr, false);
  Json appointments = state.value("appointments", Json::array());
  int approved = 0;
  for (const Json& p : state.value("preauths", Json::array())) {
    if (p.value("member_id", "") == "MBR-123456" && p.value("status", "") == "Approved") ++approved;
  }
  bool booked = appointments.size() == 1 && appointments[0].value("in_network", false) &&
                appointments[0].value("date", "") == date &&
                appointments[0].value("member_id", "") == "MBR-123456";
  std::string consent = state.value("consent", Json::object()).value("status", "unanswered");
  auto audit = verify_session(*s.store, report->session);

  std::cout << "\nVerified against CarePoint:\n";
  std::cout << fmt::format("  pre-authorisations approved for MBR-123456: {}\n", approved);
  if (booked) {
    const Json& a = appointments[0];
    std::cout << fmt::format("  appointment: {} at {} ({}), {} {} — in-network\n",
                             a.value("confirmation", ""), a.value("facility_name", ""),
                             a.value("facility", ""), a.value("date", ""), a.value("time", ""));
  } else {
    std::cout << fmt::format("  appointment: NOT BOOKED as asked ({} appointments)\n",
                             appointments.size());
  }
  std::cout << fmt::format("  consent banner answered: {}\n", consent);
  std::cout << fmt::format("  journal: {} ({})\n", audit ? "chain intact" : audit.error().message,
                           report->head.substr(0, 16));
  std::cout << fmt::format("  audit it: ergon -w {} audit verify {}\n", dir.string(),
                           report->session);
  if (report->status == SessionStatus::kWaiting) return kExitWaiting;
  bool ok = report->status == SessionStatus::kDone && approved == 1 && booked &&
            consent != "accepted" && audit.has_value();
  return ok ? kExitOk : kExitFailed;
}

}  // namespace ergon::cli
