#include "ergon/plan.h"

namespace ergon {

std::string SourceLoc::str() const {
  if (file.empty()) return "";
  if (line <= 0) return file;
  return file + ":" + std::to_string(line);
}

const char* to_string(SlotType type) {
  switch (type) {
    case SlotType::kString: return "string";
    case SlotType::kNumber: return "number";
    case SlotType::kPercent: return "percent";
    case SlotType::kMoney: return "money";
    case SlotType::kDate: return "date";
    case SlotType::kEnum: return "enum";
  }
  return "string";
}

Result<SlotType> parse_slot_type(const std::string& text) {
  for (SlotType type : {SlotType::kString, SlotType::kNumber, SlotType::kPercent, SlotType::kMoney,
                        SlotType::kDate, SlotType::kEnum}) {
    if (text == to_string(type)) return type;
  }
  return fail(ErrorCode::kInvalidInput, "unknown slot type '" + text +
                                            "': use string, number, percent, money, date or enum");
}

const char* to_string(StepKind kind) {
  switch (kind) {
    case StepKind::kAction: return "action";
    case StepKind::kCompute: return "compute";
    case StepKind::kAsk: return "ask";
  }
  return "action";
}

const char* to_string(OnFail on_fail) {
  switch (on_fail) {
    case OnFail::kAbort: return "abort";
    case OnFail::kRetry: return "retry";
    case OnFail::kSkip: return "skip";
    case OnFail::kAsk: return "ask";
  }
  return "abort";
}

Result<OnFail> parse_on_fail(const std::string& text) {
  for (OnFail value : {OnFail::kAbort, OnFail::kRetry, OnFail::kSkip, OnFail::kAsk}) {
    if (text == to_string(value)) return value;
  }
  return fail(ErrorCode::kInvalidInput,
              "unknown on_fail '" + text + "': use abort, retry, skip or ask");
}

const Step* Plan::step(const std::string& id) const {
  for (const Step& s : steps) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

}  // namespace ergon
