#include "ergon/journal.h"

#include <fmt/format.h>

namespace ergon {

Json Event::body() const {
  Json body = Json::object();
  body["seq"] = seq;
  body["session"] = session;
  body["type"] = type;
  body["time_ms"] = time_ms;
  body["data"] = data;
  return body;
}

namespace {

// The canonical body is kBodyHead + canonical data + body_tail(event): it must
// equal canonical_json(event.body()), the keys in byte order as nlohmann's
// std::map orders them, strings escaped as canonical_json escapes them.
constexpr std::string_view kBodyHead = R"({"data":)";

std::string body_tail(const Event& event) {
  std::string tail;
  tail.reserve(event.session.size() + event.type.size() + 80);
  tail += R"(,"seq":)";
  tail += std::to_string(event.seq);
  tail += R"(,"session":)";
  append_json_string(tail, event.session);
  tail += R"(,"time_ms":)";
  tail += std::to_string(event.time_ms);
  tail += R"(,"type":)";
  append_json_string(tail, event.type);
  tail += '}';
  return tail;
}

}  // namespace

std::string canonical_body(const Event& event, std::string_view canonical_data) {
  std::string tail = body_tail(event);
  std::string body;
  body.reserve(kBodyHead.size() + canonical_data.size() + tail.size());
  body += kBodyHead;
  body += canonical_data;
  body += tail;
  return body;
}

std::string chain_hash(const std::string& prev_hash, const Event& event,
                       std::string_view canonical_data) {
  return sha256_hex({prev_hash, kBodyHead, canonical_data, body_tail(event)});
}

std::string chain_hash(const std::string& prev_hash, std::string_view canonical_body) {
  return sha256_hex({prev_hash, canonical_body});
}

std::string chain_hash(const std::string& prev_hash, const Event& event) {
  return chain_hash(prev_hash, event, canonical_json(event.data));
}

Status verify_chain(const std::vector<Event>& events) {
  std::string prev = kGenesisHash;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    const auto position = static_cast<int64_t>(i) + 1;
    if (e.seq != position) {
      return fail(ErrorCode::kFailedPrecondition,
                  fmt::format("event {}: expected seq {} but found {} — events were deleted or "
                              "reordered",
                              position, position, e.seq));
    }
    if (e.session != events.front().session) {
      return fail(ErrorCode::kFailedPrecondition,
                  fmt::format("event {}: belongs to session '{}', not '{}' — events were moved "
                              "between sessions",
                              position, e.session, events.front().session));
    }
    if (e.prev_hash != prev) {
      if (position == 1) {
        return fail(ErrorCode::kFailedPrecondition,
                    "event 1: prev_hash is not the genesis hash (64 zeros) — the start of the "
                    "chain was edited");
      }
      return fail(
          ErrorCode::kFailedPrecondition,
          fmt::format("event {}: prev_hash does not link to event {}", position, position - 1));
    }
    if (chain_hash(prev, e) != e.hash) {
      return fail(
          ErrorCode::kFailedPrecondition,
          fmt::format("event {} ({}): hash mismatch — the event was edited", position, e.type));
    }
    prev = e.hash;
  }
  return {};
}

Status verify_session(Store& store, const std::string& session) {
  // The session row and the events are read by separate calls while a writer
  // may append. Events only grow and each append updates the row in its own
  // transaction, so an untampered store always satisfies
  //   before.events <= events.size() <= after.events,
  // with the row's head equal to the hash of the event it counts last.
  auto before = store.session(session);
  if (!before) return fail(before.error());
  auto events = store.events(session);
  if (!events) return fail(events.error());
  auto after = store.session(session);
  if (!after) return fail(after.error());

  if (auto chain = verify_chain(*events); !chain) {
    return fail(chain.error().with_context(fmt::format("session '{}': ", session)));
  }
  const auto count = static_cast<int64_t>(events->size());
  if (count < before->events) {
    return fail(ErrorCode::kFailedPrecondition,
                fmt::format("session '{}': the session records {} events but the journal holds {} "
                            "— events were deleted from the end of the journal",
                            session, before->events, count));
  }
  if (count > after->events) {
    return fail(ErrorCode::kFailedPrecondition,
                fmt::format("session '{}': the journal holds {} events but the session records "
                            "only {} — events were added to the journal behind the session's back",
                            session, count, after->events));
  }
  auto hash_at = [&](int64_t n) -> std::string {
    return n == 0 ? std::string(kGenesisHash) : (*events)[static_cast<size_t>(n - 1)].hash;
  };
  for (const SessionInfo* row : {&*before, &*after}) {
    if (row->events > count) continue;  // appended after the events were read
    if (row->head != hash_at(row->events)) {
      return fail(ErrorCode::kFailedPrecondition,
                  fmt::format("session '{}': the session's head hash {} does not match the hash "
                              "of its event {}, {} — the journal or the session row was edited",
                              session, row->head, row->events, hash_at(row->events)));
    }
  }
  return {};
}

const char* to_string(SessionStatus status) {
  switch (status) {
    case SessionStatus::kRunning: return "running";
    case SessionStatus::kWaiting: return "waiting";
    case SessionStatus::kDone: return "done";
    case SessionStatus::kFailed: return "failed";
    case SessionStatus::kAborted: return "aborted";
  }
  return "running";
}

Result<SessionStatus> parse_session_status(const std::string& text) {
  for (SessionStatus status :
       {SessionStatus::kRunning, SessionStatus::kWaiting, SessionStatus::kDone,
        SessionStatus::kFailed, SessionStatus::kAborted}) {
    if (text == to_string(status)) return status;
  }
  return fail(ErrorCode::kInvalidInput,
              fmt::format("unknown session status '{}' (expected running, waiting, done, failed "
                          "or aborted)",
                          text));
}

}  // namespace ergon
