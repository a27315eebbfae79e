// A Store that can be fenced: after fence(), every write outside a batch
// already begun fails kUnavailable. The server gives each worker's engine one,
// so that stopping the server freezes a running session exactly where its
// journal stands (as a crash would), and the next start resumes it.
#pragma once

#include <atomic>

#include "ergon/journal.h"

namespace ergon::serve_internal {

// Reads and writes go to `inner`. Used by one engine thread; fence() may be
// called from any thread.
class FencedStore final : public Store {
 public:
  explicit FencedStore(Store& inner) : inner_(inner) {}

  void fence() { fenced_ = true; }

  Result<SessionInfo> create_session(const std::string& id, const std::string& goal,
                                     const std::string& workspace) override {
    if (fenced_) return stopped();
    return inner_.create_session(id, goal, workspace);
  }
  Result<Event> append(const std::string& session, const std::string& type, Json data) override {
    if (fenced_ && !in_batch_) return stopped();
    return inner_.append(session, type, std::move(data));
  }
  Result<std::string> append_canonical(const std::string& session, const std::string& type,
                                       std::string_view canonical_data) override {
    if (fenced_ && !in_batch_) return stopped();
    return inner_.append_canonical(session, type, canonical_data);
  }
  // A batch begun before the fence is finished whole: it is one transaction.
  Status begin_batch() override {
    if (fenced_) return stopped();
    auto s = inner_.begin_batch();
    in_batch_ = s.has_value();
    return s;
  }
  Status commit_batch() override {
    in_batch_ = false;
    return inner_.commit_batch();
  }
  Status set_status(const std::string& session, SessionStatus status) override {
    if (fenced_ && !in_batch_) return stopped();
    return inner_.set_status(session, status);
  }
  Result<SessionInfo> session(const std::string& id) override { return inner_.session(id); }
  Result<std::vector<SessionInfo>> sessions() override { return inner_.sessions(); }
  Result<std::vector<Event>> events(const std::string& session) override {
    return inner_.events(session);
  }

 private:
  static std::unexpected<Error> stopped() {
    return fail(ErrorCode::kUnavailable, "the server is stopping; the session resumes on restart");
  }

  Store& inner_;
  std::atomic<bool> fenced_{false};
  bool in_batch_ = false;  // only touched by the engine's thread
};

}  // namespace ergon::serve_internal
