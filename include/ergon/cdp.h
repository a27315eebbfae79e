// A Chromium process driven over the Chrome DevTools Protocol through
// --remote-debugging-pipe: the browser reads commands from our fd 3 and writes
// answers and events to fd 4, each message one JSON object followed by a NUL
// byte. No port is opened. Commands carry ids and time out; events are
// delivered to subscribers; flattened target sessions (Target.attachToTarget
// {flatten: true}) address pages, popups and iframes with a `sessionId`.
//
// Failure model: a browser that exits or crashes turns every pending and later
// call into kUnavailable ("chromium exited: signal 9"); a command that gets no
// answer within its timeout is kTimeout (the browser may be hung: the owner
// decides whether to restart it). A CDP error answer is kFailedPrecondition
// with the protocol's message.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ergon/json.h"
#include "ergon/result.h"

namespace ergon {

struct ChromiumOptions {
  std::string executable = "/usr/bin/chromium";
  // A fresh directory for this browser's profile; launch() creates it when
  // missing. The owner removes it when done (remove_profile_on_close).
  std::string profile_dir;
  bool remove_profile_on_close = true;
  bool headless = true;
  int window_width = 1280;
  int window_height = 900;
  std::vector<std::string> extra_args;
  std::chrono::milliseconds launch_timeout{20000};
  std::chrono::milliseconds command_timeout{10000};
};

// One CDP event: method, params and the target session it came from ("" for
// the browser target).
struct CdpEvent {
  std::string method;
  Json params;
  std::string session;
};

class Chromium {
 public:
  // Starts the browser (headless unless told otherwise; sandbox off when
  // running as root; background networking, sync, component updates, first-run
  // UI, extensions and default-browser checks off) and waits until it answers
  // Browser.getVersion. kUnavailable when the executable is missing or exits.
  static Result<std::unique_ptr<Chromium>> launch(const ChromiumOptions& options);

  // Closes the browser (Browser.close, then SIGKILL after a short grace),
  // reaps the process, joins the reader and removes the profile if asked.
  ~Chromium();
  Chromium(const Chromium&) = delete;
  Chromium& operator=(const Chromium&) = delete;

  // Sends one command and waits for its answer (the `result` object).
  // `session` "" addresses the browser target. timeout 0 → options' default.
  // Thread-safe.
  Result<Json> call(const std::string& method, const Json& params = Json::object(),
                    const std::string& session = "",
                    std::chrono::milliseconds timeout = std::chrono::milliseconds{0});

  // Event subscription. The handler runs on the reader thread: keep it short
  // and never call call() from it. Returns an id for unsubscribe().
  int subscribe(std::function<void(const CdpEvent&)> handler);
  void unsubscribe(int id);

  // Waits for an event. Create the waiter BEFORE sending the command that
  // causes the event, then wait():
  //   auto loaded = browser.expect([&](const CdpEvent& e) {
  //     return e.method == "Page.loadEventFired" && e.session == page; });
  //   browser.call("Page.navigate", {{"url", url}}, page);
  //   auto event = loaded->wait(std::chrono::seconds(10));
  class Waiter {
   public:
    virtual ~Waiter() = default;
    // kTimeout when no matching event arrived in time; kUnavailable when the
    // browser went away meanwhile.
    virtual Result<CdpEvent> wait(std::chrono::milliseconds timeout) = 0;
  };
  std::unique_ptr<Waiter> expect(std::function<bool(const CdpEvent&)> match);

  // False once the process exited or the pipe closed.
  bool alive() const;
  pid_t pid() const;
  const ChromiumOptions& options() const;
  // Why the browser is gone ("" while alive), e.g. "chromium exited: signal 9".
  std::string exit_reason() const;

  // Kills the process (SIGKILL) without the polite close — for tests and for
  // restarting a hung browser.
  void kill();

  class Impl;

 private:
  explicit Chromium(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ergon
