#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "ergon/planner.h"

namespace ergon {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

SlotSpec slot_of(SlotType type, std::vector<std::string> choices = {}) {
  SlotSpec slot;
  slot.name = "value";
  slot.type = type;
  slot.choices = std::move(choices);
  return slot;
}

// 2027-03-04 10:30 UTC.
int64_t march_4_2027_ms() {
  using namespace std::chrono;
  auto day = sys_days{year{2027} / March / 4};
  return duration_cast<milliseconds>((day + hours{10} + minutes{30}).time_since_epoch()).count();
}

Json parsed(SlotType type, const std::string& text, int64_t now_ms = 0,
            std::vector<std::string> choices = {}) {
  auto value = parse_slot_value(slot_of(type, std::move(choices)), text, now_ms);
  EXPECT_TRUE(value.has_value()) << "'" << text << "': " << value.error().message;
  return value ? *value : Json();
}

std::string parse_error(SlotType type, const std::string& text, int64_t now_ms = 0,
                        std::vector<std::string> choices = {}) {
  auto value = parse_slot_value(slot_of(type, std::move(choices)), text, now_ms);
  EXPECT_FALSE(value.has_value()) << "'" << text << "' parsed as " << value->dump();
  if (value) return "";
  EXPECT_EQ(value.error().code, ErrorCode::kInvalidInput);
  return value.error().message;
}

std::optional<Json> extracted(SlotType type, const std::string& goal, int64_t now_ms = 0,
                              std::vector<std::string> choices = {}) {
  return extract_slot_value(slot_of(type, std::move(choices)), goal, now_ms);
}

TEST(Percent, ParsesAnswers) {
  EXPECT_EQ(parsed(SlotType::kPercent, "15%"), Json(15));
  EXPECT_EQ(parsed(SlotType::kPercent, "15 %"), Json(15));
  EXPECT_EQ(parsed(SlotType::kPercent, "15 percent"), Json(15));
  EXPECT_EQ(parsed(SlotType::kPercent, "12.5 per cent"), Json(12.5));
  EXPECT_EQ(parsed(SlotType::kPercent, "  about 20% please "), Json(20));
  EXPECT_EQ(parsed(SlotType::kPercent, "15"), Json(15));  // the answer to "by how much?"
  EXPECT_EQ(parsed(SlotType::kPercent, "-5%"), Json(-5));
}

TEST(Percent, RejectsWhatIsNotAPercentage) {
  EXPECT_EQ(parse_error(SlotType::kPercent, "a lot"),
            "expected a percentage like 15%, got 'a lot'");
  EXPECT_EQ(parse_error(SlotType::kPercent, "  "), "expected a percentage like 15%, got nothing");
  EXPECT_THAT(parse_error(SlotType::kPercent, "10% or 20%"),
              StartsWith("found several percentages in '10% or 20%' (10%, 20%)"));
  EXPECT_THAT(parse_error(SlotType::kPercent, "$15"), StartsWith("expected a percentage"));
}

TEST(Percent, ExtractsFromGoals) {
  EXPECT_EQ(extracted(SlotType::kPercent, "cut our cloud bill 15% without hurting performance"),
            Json(15));
  EXPECT_EQ(extracted(SlotType::kPercent, "reduce spend by 7.5 percent by March 4, 2027"),
            Json(7.5));
  // "by 15" counts when it is the goal's only quantity.
  EXPECT_EQ(extracted(SlotType::kPercent, "cut cloud spend by 15"), Json(15));
  EXPECT_EQ(extracted(SlotType::kPercent, "cut cloud spend by 15 before 2027-03-04"), Json(15));
  EXPECT_FALSE(extracted(SlotType::kPercent, "cut cloud spend by 15 on 3 servers"));
  EXPECT_FALSE(extracted(SlotType::kPercent, "cut cloud spend to 15"));
  EXPECT_FALSE(extracted(SlotType::kPercent, "cut our cloud spend without touching production"));
}

TEST(Money, ParsesAnswers) {
  EXPECT_EQ(parsed(SlotType::kMoney, "$1,200"), Json(1200));
  EXPECT_EQ(parsed(SlotType::kMoney, "1200 USD"), Json(1200));
  EXPECT_EQ(parsed(SlotType::kMoney, "€50"), Json(50));
  EXPECT_EQ(parsed(SlotType::kMoney, "£ 19.99"), Json(19.99));
  EXPECT_EQ(parsed(SlotType::kMoney, "10k"), Json(10000));
  EXPECT_EQ(parsed(SlotType::kMoney, "$2.5m"), Json(2500000));
  EXPECT_EQ(parsed(SlotType::kMoney, "1.1k"), Json(1100));  // exact, not 1100.0000000000002
  EXPECT_EQ(parsed(SlotType::kMoney, "3 million dollars"), Json(3000000));
  EXPECT_EQ(parsed(SlotType::kMoney, "USD 75"), Json(75));
  EXPECT_EQ(parsed(SlotType::kMoney, "50€"), Json(50));
  EXPECT_EQ(parsed(SlotType::kMoney, "500"), Json(500));  // a bare answer to "how much?"
}

TEST(Money, RejectsAndExtracts) {
  EXPECT_EQ(parse_error(SlotType::kMoney, "cheap"),
            "expected an amount of money like $1,200, 1200 USD or 10k, got 'cheap'");
  EXPECT_THAT(parse_error(SlotType::kMoney, "$5 or $10"), StartsWith("found several amounts"));
  EXPECT_EQ(extracted(SlotType::kMoney, "buy 30 shares of ACME for at most $1,200 total"),
            Json(1200));
  EXPECT_EQ(extracted(SlotType::kMoney, "keep the budget under 10k this quarter"), Json(10000));
  EXPECT_FALSE(extracted(SlotType::kMoney, "buy 30 shares of ACME"));
}

TEST(Number, ParsesAnswers) {
  EXPECT_EQ(parsed(SlotType::kNumber, "3"), Json(3));
  EXPECT_EQ(parsed(SlotType::kNumber, "2.5"), Json(2.5));
  EXPECT_EQ(parsed(SlotType::kNumber, "1,000"), Json(1000));
  EXPECT_EQ(parsed(SlotType::kNumber, "3 replicas"), Json(3));
  EXPECT_EQ(parsed(SlotType::kNumber, "-4"), Json(-4));
  EXPECT_EQ(parse_error(SlotType::kNumber, "three"),
            "expected a number like 3, 2.5 or 1,000, got 'three'");
  EXPECT_THAT(parse_error(SlotType::kNumber, "3 or 4"), StartsWith("found several numbers"));
}

TEST(Number, ExtractSkipsNumbersInsideOtherValues) {
  EXPECT_EQ(extracted(SlotType::kNumber, "by 2027-03-04 scale web to 3 replicas"), Json(3));
  EXPECT_EQ(extracted(SlotType::kNumber, "with 15% headroom keep 4 nodes"), Json(4));
  EXPECT_EQ(extracted(SlotType::kNumber, "spend $1,200 on 6 laptops"), Json(6));
  EXPECT_EQ(extracted(SlotType::kNumber, "resize to t2.micro and 2 instances"), Json(2));
  EXPECT_FALSE(extracted(SlotType::kNumber, "on March 4, 2027"));

  auto all = find_slot_values(slot_of(SlotType::kNumber), "move 3 pods then 5 pods");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].value, Json(3));
  EXPECT_EQ(all[1].value, Json(5));
  EXPECT_EQ(std::string("move 3 pods then 5 pods").substr(all[1].begin, all[1].end - all[1].begin),
            "5");
}

TEST(Date, ParsesAbsoluteDates) {
  EXPECT_EQ(parsed(SlotType::kDate, "2027-03-04"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "2027/3/4"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "3/4/2027"), Json("2027-03-04"));  // US month/day
  EXPECT_EQ(parsed(SlotType::kDate, "12/25/27"), Json("2027-12-25"));
  EXPECT_EQ(parsed(SlotType::kDate, "March 4, 2027"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "Mar 4th 2027"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "4 March 2027"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "4th of March, 2027"), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "February 29, 2028"), Json("2028-02-29"));  // leap year
}

TEST(Date, ValidatesCalendarDays) {
  EXPECT_EQ(parse_error(SlotType::kDate, "February 30, 2027"),
            "'February 30, 2027' is not a valid date — February 2027 has 28 days");
  EXPECT_EQ(parse_error(SlotType::kDate, "2027-02-29"),
            "'2027-02-29' is not a valid date — February 2027 has 28 days");
  EXPECT_EQ(parse_error(SlotType::kDate, "2027-04-31"),
            "'2027-04-31' is not a valid date — April 2027 has 30 days");
  EXPECT_EQ(parse_error(SlotType::kDate, "13/4/2027"),
            "'13/4/2027' is not a valid date — months run from 1 to 12");
  EXPECT_EQ(parse_error(SlotType::kDate, "soon"),
            "expected a date like 2027-03-04, 3/4/2027 or March 4, 2027, got 'soon'");
  EXPECT_THAT(parse_error(SlotType::kDate, "2027-03-04 or 2027-03-05"),
              StartsWith("found several dates"));
}

TEST(Date, RelativeDatesNeedAReference) {
  EXPECT_THAT(parse_error(SlotType::kDate, "tomorrow"),
              StartsWith("'tomorrow' is relative and no reference date is available here"));
  EXPECT_THAT(parse_error(SlotType::kDate, "March 4"), StartsWith("'March 4' has no year"));
  const int64_t now = march_4_2027_ms();
  EXPECT_EQ(parsed(SlotType::kDate, "today", now), Json("2027-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "Tomorrow", now), Json("2027-03-05"));
  EXPECT_EQ(parsed(SlotType::kDate, "yesterday", now), Json("2027-03-03"));
  EXPECT_EQ(parsed(SlotType::kDate, "March 10", now), Json("2027-03-10"));
  EXPECT_EQ(parsed(SlotType::kDate, "1 March", now), Json("2028-03-01"));  // already past
}

TEST(Date, ExtractsFromGoals) {
  EXPECT_EQ(extracted(SlotType::kDate, "book the MRI on March 4, 2027 in-network"),
            Json("2027-03-04"));
  EXPECT_EQ(extracted(SlotType::kDate, "deploy 3 pods before 2027-03-04."), Json("2027-03-04"));
  EXPECT_EQ(extracted(SlotType::kDate, "book it for tomorrow", march_4_2027_ms()),
            Json("2027-03-05"));
  EXPECT_FALSE(extracted(SlotType::kDate, "book it for tomorrow"));
  EXPECT_FALSE(extracted(SlotType::kDate, "book it on 2027-02-30"));
  EXPECT_FALSE(extracted(SlotType::kDate, "you may go"));
}

// 2027-03-04 is a Thursday.
TEST(Date, RelativeWeekdaysAndPeriods) {
  const int64_t now = march_4_2027_ms();
  EXPECT_EQ(parsed(SlotType::kDate, "next Tuesday", now), Json("2027-03-09"));  // of next week
  EXPECT_EQ(parsed(SlotType::kDate, "next Thursday", now), Json("2027-03-11"));
  EXPECT_EQ(parsed(SlotType::kDate, "next tue", now), Json("2027-03-09"));
  EXPECT_EQ(parsed(SlotType::kDate, "this Friday", now), Json("2027-03-05"));
  EXPECT_EQ(parsed(SlotType::kDate, "this Thursday", now), Json("2027-03-04"));  // today counts
  EXPECT_EQ(parsed(SlotType::kDate, "Friday", now), Json("2027-03-05"));
  EXPECT_EQ(parsed(SlotType::kDate, "on Thursday", now), Json("2027-03-11"));  // the next one
  EXPECT_EQ(parsed(SlotType::kDate, "coming Monday", now), Json("2027-03-08"));
  EXPECT_EQ(parsed(SlotType::kDate, "last Friday", now), Json("2027-02-26"));
  EXPECT_EQ(parsed(SlotType::kDate, "last Thursday", now), Json("2027-02-25"));
  EXPECT_EQ(parsed(SlotType::kDate, "by sat", now), Json("2027-03-06"));
  EXPECT_EQ(parsed(SlotType::kDate, "in 3 days", now), Json("2027-03-07"));
  EXPECT_EQ(parsed(SlotType::kDate, "in two weeks", now), Json("2027-03-18"));
  EXPECT_EQ(parsed(SlotType::kDate, "in a month", now), Json("2027-04-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "in 1 year", now), Json("2028-03-04"));
  EXPECT_EQ(parsed(SlotType::kDate, "10 days from now", now), Json("2027-03-14"));
  EXPECT_EQ(parsed(SlotType::kDate, "the day after tomorrow", now), Json("2027-03-06"));
  // A weekday before an absolute date is part of it, not a second date.
  EXPECT_EQ(parsed(SlotType::kDate, "Tuesday, March 9, 2027", now), Json("2027-03-09"));

  using namespace std::chrono;
  auto jan_31 = duration_cast<milliseconds>(sys_days{year{2027} / January / 31}.time_since_epoch());
  EXPECT_EQ(parsed(SlotType::kDate, "in a month", jan_31.count()), Json("2027-02-28"));
}

TEST(Date, WhatIsNotARelativeDate) {
  const int64_t now = march_4_2027_ms();
  EXPECT_THAT(parse_error(SlotType::kDate, "next Tuesday"),
              StartsWith("'next Tuesday' is relative and no reference date is available here"));
  EXPECT_THAT(parse_error(SlotType::kDate, "in 3 days"), StartsWith("'in 3 days' is relative"));
  EXPECT_THAT(parse_error(SlotType::kDate, "we sat down", now), StartsWith("expected a date"));
  EXPECT_THAT(parse_error(SlotType::kDate, "3 days", now), StartsWith("expected a date"));
  // "3 days" alone is a duration: its number stays a number.
  EXPECT_EQ(extracted(SlotType::kNumber, "keep 3 days of logs", now), Json(3));
  EXPECT_EQ(extracted(SlotType::kNumber, "scale web to 4 in 2 days", now), Json(4));
  EXPECT_EQ(extracted(SlotType::kDate, "scale web to 4 in 2 days", now), Json("2027-03-06"));
}

TEST(Money, MoreCurrencyForms) {
  EXPECT_EQ(parsed(SlotType::kMoney, "1.2k USD"), Json(1200));
  EXPECT_EQ(parsed(SlotType::kMoney, "EUR 300"), Json(300));
  EXPECT_EQ(parsed(SlotType::kMoney, "300 EUR"), Json(300));
  EXPECT_EQ(parsed(SlotType::kMoney, "USD 1.2k"), Json(1200));
  EXPECT_EQ(parsed(SlotType::kMoney, "$1,200.50"), Json(1200.5));
  EXPECT_EQ(extracted(SlotType::kMoney, "approve INV-2027-001 for EUR 12,000"), Json(12000));
}

TEST(Code, ParsesCodes) {
  EXPECT_EQ(parsed(SlotType::kCode, "MBR-123456"), Json("MBR-123456"));
  EXPECT_EQ(parsed(SlotType::kCode, "FAC-1058"), Json("FAC-1058"));
  EXPECT_EQ(parsed(SlotType::kCode, "INV-2027-001"), Json("INV-2027-001"));
  EXPECT_EQ(parsed(SlotType::kCode, "ord_9917"), Json("ord_9917"));  // as written
  EXPECT_EQ(parsed(SlotType::kCode, "t2.micro"), Json("t2.micro"));
  EXPECT_EQ(parsed(SlotType::kCode, "A1B2C3"), Json("A1B2C3"));
  EXPECT_EQ(parsed(SlotType::kCode, "72148"), Json("72148"));  // five digits: a code, a string
  EXPECT_EQ(parsed(SlotType::kCode, "02139"), Json("02139"));  // leading zero kept
  EXPECT_EQ(parsed(SlotType::kCode, "member MBR-123456."), Json("MBR-123456"));
  // The answer to "which code?" may be shorter.
  EXPECT_EQ(parsed(SlotType::kCode, "1058"), Json("1058"));
  EXPECT_EQ(parsed(SlotType::kCode, "7-11"), Json("7-11"));
}

TEST(Code, WhatIsNotACode) {
  const std::string hint = "expected a code like MBR-123456 or INV-2027-001 (letters and digits)";
  EXPECT_EQ(parse_error(SlotType::kCode, "production"), hint + ", got 'production'");
  EXPECT_EQ(parse_error(SlotType::kCode, "in-network"), hint + ", got 'in-network'");
  EXPECT_EQ(parse_error(SlotType::kCode, "2027-03-04"), hint + ", got '2027-03-04'");
  EXPECT_EQ(parse_error(SlotType::kCode, "$1,200"), hint + ", got '$1,200'");
  EXPECT_EQ(parse_error(SlotType::kCode, "10k"), hint + ", got '10k'");
  EXPECT_EQ(parse_error(SlotType::kCode, "15%"), hint + ", got '15%'");
  EXPECT_EQ(parse_error(SlotType::kCode, "ana@example.com"), hint + ", got 'ana@example.com'");
  EXPECT_THAT(parse_error(SlotType::kCode, "FAC-1058 or FAC-1059"),
              StartsWith("found several codes in 'FAC-1058 or FAC-1059' (FAC-1058, FAC-1059)"));
  // In a goal: quantities with units, years and short numbers are not codes.
  for (const char* goal : {"a 3-day trip", "keep it under 10k", "the 4th of March", "in 2027",
                           "1058 invoices", "24h support", "lumbar spine"}) {
    EXPECT_FALSE(extracted(SlotType::kCode, goal)) << goal;
  }
}

TEST(Code, ExtractsFromGoals) {
  EXPECT_EQ(extracted(SlotType::kCode, "approve INV-2027-001 for $4,500 by 2027-03-04"),
            Json("INV-2027-001"));
  EXPECT_EQ(extracted(SlotType::kCode, "book MRI 72148 for Jane"), Json("72148"));
  auto all = find_slot_values(slot_of(SlotType::kCode), "merge MBR-123456 into (FAC-1058).");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].value, "MBR-123456");
  EXPECT_EQ(all[1].value, "FAC-1058");
  // The numbers inside a code are not numbers, nor is its date-like middle a date.
  EXPECT_FALSE(extracted(SlotType::kNumber, "approve INV-2027-001"));
  EXPECT_FALSE(extracted(SlotType::kDate, "approve INV-2027-03-04"));
  EXPECT_EQ(extracted(SlotType::kNumber, "resize to t2.micro and 2 instances"), Json(2));
}

TEST(Email, ParsesAndExtracts) {
  EXPECT_EQ(parsed(SlotType::kEmail, "ana@example.com"), Json("ana@example.com"));
  EXPECT_EQ(parsed(SlotType::kEmail, "Ana Lopez <ana.lopez+it@mail.example.co.uk>."),
            Json("ana.lopez+it@mail.example.co.uk"));
  EXPECT_EQ(extracted(SlotType::kEmail, "please reset john.smith@acme.io's password"),
            Json("john.smith@acme.io"));
  EXPECT_EQ(extracted(SlotType::kEmail, "invite dev-ops@example.org, today"),
            Json("dev-ops@example.org"));
  const std::string hint = "expected an e-mail address like ana@example.com";
  for (const char* text :
       {"ana@", "@example.com", "ana@example", "ana example.com", "ana@example.c0m"}) {
    EXPECT_EQ(parse_error(SlotType::kEmail, text), hint + ", got '" + text + "'") << text;
  }
  EXPECT_THAT(parse_error(SlotType::kEmail, "a@x.io, b@y.io"),
              StartsWith("found several e-mail addresses"));
  // An address is one value: its parts are not codes or numbers.
  EXPECT_FALSE(extracted(SlotType::kCode, "mail ops2@example.com"));
  EXPECT_FALSE(extracted(SlotType::kNumber, "mail ops2@example.com"));
}

TEST(TypedValues, FindsEveryKindInOrder) {
  const std::string goal =
      "approve INV-2027-001 for $4,500, mail ana@example.com by next Friday, 15% off, 3 copies";
  std::vector<SlotValueMatch> all = find_typed_values(goal, march_4_2027_ms());
  std::vector<SlotType> types;
  for (const SlotValueMatch& match : all) types.push_back(match.type);
  EXPECT_EQ(types, (std::vector<SlotType>{SlotType::kCode, SlotType::kMoney, SlotType::kEmail,
                                          SlotType::kDate, SlotType::kPercent, SlotType::kNumber}));
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[3].value, "2027-03-12");
  EXPECT_EQ(goal.substr(all[3].begin, all[3].end - all[3].begin), "next Friday");
}

TEST(Enum, ParsesAnswers) {
  const std::vector<std::string> choices = {"small", "large", "in-network"};
  EXPECT_EQ(parsed(SlotType::kEnum, "LARGE", 0, choices), Json("large"));
  EXPECT_EQ(parsed(SlotType::kEnum, "the small one", 0, choices), Json("small"));
  EXPECT_EQ(parsed(SlotType::kEnum, "in-network please", 0, choices), Json("in-network"));
  EXPECT_EQ(parse_error(SlotType::kEnum, "medium", 0, choices),
            "expected one of small, large, in-network, got 'medium'");
  EXPECT_EQ(parse_error(SlotType::kEnum, "smal", 0, choices),
            "expected one of small, large, in-network, got 'smal'; did you mean 'small'?");
  EXPECT_EQ(parse_error(SlotType::kEnum, "small or large", 0, choices),
            "'small or large' mentions both 'small' and 'large' — answer with just one");
}

TEST(Enum, ExtractsWholeWordsOnly) {
  const std::vector<std::string> choices = {"small", "large"};
  EXPECT_EQ(extracted(SlotType::kEnum, "resize the db to Large", 0, choices), Json("large"));
  EXPECT_FALSE(extracted(SlotType::kEnum, "make it smaller", 0, choices));
  EXPECT_FALSE(extracted(SlotType::kEnum, "small or large?", 0, choices));  // ambiguous: ask
}

TEST(String, AnswersAreTrimmedAndNeverExtracted) {
  EXPECT_EQ(parsed(SlotType::kString, "  Dr. Smith \n"), Json("Dr. Smith"));
  EXPECT_EQ(parse_error(SlotType::kString, "   "), "expected a value, got nothing");
  EXPECT_FALSE(extracted(SlotType::kString, "book Dr. Smith"));
  EXPECT_TRUE(find_slot_values(slot_of(SlotType::kString), "book Dr. Smith").empty());
}

}  // namespace
}  // namespace ergon
