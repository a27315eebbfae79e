// Typed slot values in free text: a person's answer ("15%") or a goal sentence
// ("cut spend by 15% before March 4, 2027"). The text is split into tokens
// (numbers, words, symbols) and scanned once, left to right, for mentions of an
// e-mail address, a date, a code, a percentage, an amount of money or a bare
// number, in that priority, so a number inside "2027-03-04", "$1,200" or
// "INV-2027-001" is never a number of its own.
//
// What a code is: one whitespace-free run of letters and digits joined by '-',
// '_' or '.' ("MBR-123456", "FAC-1058", "INV-2027-001", "t2.micro", "M54.5"),
// with at least one letter, at least one digit and at least three characters;
// or, only for a slot typed as a code, a plain run of five or more digits
// ("72148", "02139"). What a code is not: a date, a percentage, an amount, a
// quantity with its unit ("10k", "24h", "3-day", "4th"), a shorter plain number
// ("2027" reads as a year, "1058" as a count), a word without digits
// ("in-network") or an e-mail address.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "ergon/planner.h"

namespace ergon {
namespace {

enum class TokenKind { kNumber, kWord, kSymbol };

struct Token {
  TokenKind kind = TokenKind::kSymbol;
  // kNumber: optional sign, digits and '.', grouping commas removed;
  // kWord: ASCII letters, lowercased; kSymbol: one character (a whole UTF-8 sequence).
  std::string text;
  size_t begin = 0;
  size_t end = 0;
  bool adjacent = false;  // no whitespace between the previous token and this one
};

bool is_digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}
bool is_alpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}
bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string trim(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

std::vector<Token> lex(const std::string& text) {
  std::vector<Token> tokens;
  size_t p = 0;
  bool space = true;
  while (p < text.size()) {
    char c = text[p];
    if (is_space(c)) {
      space = true;
      ++p;
      continue;
    }
    Token token;
    token.begin = p;
    token.adjacent = !space && !tokens.empty();
    bool sign = (c == '-' || c == '+') && p + 1 < text.size() && is_digit(text[p + 1]) &&
                (p == 0 || !is_alnum(text[p - 1]));
    if (is_digit(c) || sign) {
      token.kind = TokenKind::kNumber;
      if (sign) token.text += text[p++];
      while (p < text.size() && is_digit(text[p])) token.text += text[p++];
      // "1,000": a comma followed by exactly three digits groups thousands.
      while (p + 3 < text.size() && text[p] == ',' && is_digit(text[p + 1]) &&
             is_digit(text[p + 2]) && is_digit(text[p + 3]) &&
             (p + 4 == text.size() || !is_digit(text[p + 4]))) {
        token.text += text.substr(p + 1, 3);
        p += 4;
      }
      if (p + 1 < text.size() && text[p] == '.' && is_digit(text[p + 1])) {
        token.text += text[p++];
        while (p < text.size() && is_digit(text[p])) token.text += text[p++];
      }
    } else if (is_alpha(c)) {
      token.kind = TokenKind::kWord;
      while (p < text.size() && is_alpha(text[p])) {
        token.text += static_cast<char>(std::tolower(static_cast<unsigned char>(text[p++])));
      }
    } else {
      token.kind = TokenKind::kSymbol;
      size_t length = 1;
      unsigned char lead = static_cast<unsigned char>(c);
      if (lead >= 0xF0) {
        length = 4;
      } else if (lead >= 0xE0) {
        length = 3;
      } else if (lead >= 0xC0) {
        length = 2;
      }
      length = std::min(length, text.size() - p);
      token.text = text.substr(p, length);
      p += length;
    }
    token.end = p;
    tokens.push_back(std::move(token));
    space = false;
  }
  return tokens;
}

// A number token written as a plain integer of min..max digits ("03", "2027").
bool is_plain_int(const Token* token, size_t min_digits, size_t max_digits) {
  if (token == nullptr || token->kind != TokenKind::kNumber) return false;
  const std::string& t = token->text;
  return t.size() >= min_digits && t.size() <= max_digits &&
         std::all_of(t.begin(), t.end(), is_digit);
}

bool is_word(const Token* token, std::initializer_list<const char*> words) {
  if (token == nullptr || token->kind != TokenKind::kWord) return false;
  for (const char* word : words) {
    if (token->text == word) return true;
  }
  return false;
}

bool is_symbol(const Token* token, std::initializer_list<const char*> symbols) {
  if (token == nullptr || token->kind != TokenKind::kSymbol) return false;
  for (const char* symbol : symbols) {
    if (token->text == symbol) return true;
  }
  return false;
}

unsigned month_number(const Token* token) {
  if (token == nullptr || token->kind != TokenKind::kWord) return 0;
  static const std::map<std::string, unsigned> kMonths = {
      {"january", 1},   {"jan", 1},   {"february", 2},  {"feb", 2},      {"march", 3},
      {"mar", 3},       {"april", 4}, {"apr", 4},       {"may", 5},      {"june", 6},
      {"jun", 6},       {"july", 7},  {"jul", 7},       {"august", 8},   {"aug", 8},
      {"september", 9}, {"sep", 9},   {"sept", 9},      {"october", 10}, {"oct", 10},
      {"november", 11}, {"nov", 11},  {"december", 12}, {"dec", 12}};
  auto it = kMonths.find(token->text);
  return it == kMonths.end() ? 0 : it->second;
}

// ISO weekday of a day name (Monday 0 .. Sunday 6), or -1. Short names
// ("tue", "sat") only when `short_names`: alone, "sat" and "wed" are verbs.
int weekday_number(const Token* token, bool short_names) {
  if (token == nullptr || token->kind != TokenKind::kWord) return -1;
  static const std::map<std::string, int> kDays = {
      {"monday", 0}, {"tuesday", 1},  {"wednesday", 2}, {"thursday", 3},
      {"friday", 4}, {"saturday", 5}, {"sunday", 6}};
  static const std::map<std::string, int> kShort = {
      {"mon", 0},  {"tue", 1},   {"tues", 1}, {"wed", 2}, {"weds", 2}, {"thu", 3},
      {"thur", 3}, {"thurs", 3}, {"fri", 4},  {"sat", 5}, {"sun", 6}};
  if (auto it = kDays.find(token->text); it != kDays.end()) return it->second;
  if (!short_names) return -1;
  auto it = kShort.find(token->text);
  return it == kShort.end() ? -1 : it->second;
}

// A small count written as digits or a word ("3", "a", "two"), or -1.
int small_count(const Token* token) {
  if (token == nullptr) return -1;
  if (is_plain_int(token, 1, 3)) return std::stoi(token->text);
  static const std::map<std::string, int> kWords = {
      {"a", 1},    {"an", 1},   {"one", 1},     {"two", 2},    {"three", 3},
      {"four", 4}, {"five", 5}, {"six", 6},     {"seven", 7},  {"eight", 8},
      {"nine", 9}, {"ten", 10}, {"eleven", 11}, {"twelve", 12}};
  if (token->kind != TokenKind::kWord) return -1;
  auto it = kWords.find(token->text);
  return it == kWords.end() ? -1 : it->second;
}

// Days per unit of "in 3 days" / "2 weeks from now"; months and years are
// calendar steps (0 here), told apart by the unit word.
bool is_period_unit(const Token* token) {
  return is_word(token, {"day", "days", "week", "weeks", "month", "months", "year", "years"});
}

const char* month_name(unsigned month) {
  static const char* kNames[] = {"January",   "February", "March",    "April",
                                 "May",       "June",     "July",     "August",
                                 "September", "October",  "November", "December"};
  return month >= 1 && month <= 12 ? kNames[month - 1] : "?";
}

// Powers of ten a suffix multiplies by: "10k", "$2.5m", "3 million".
int suffix_shift(const Token* token, bool adjacent_only_letters) {
  if (token == nullptr || token->kind != TokenKind::kWord) return 0;
  const std::string& t = token->text;
  if (t == "thousand") return 3;
  if (t == "million") return 6;
  if (t == "billion") return 9;
  if (adjacent_only_letters && !token->adjacent) return 0;
  if (t == "k") return 3;
  if (t == "m" || t == "mm") return 6;
  if (t == "b" || t == "bn") return 9;
  return 0;
}

bool is_currency_symbol(const Token* token) {
  return is_symbol(token, {"$", "€", "£", "¥"});
}
bool is_currency_code(const Token* token) {
  return is_word(token, {"usd", "eur", "gbp", "jpy", "cad", "aud", "chf"});
}
bool is_currency_word(const Token* token) {
  return is_currency_code(token) || is_word(token, {"dollar", "dollars", "euro", "euros", "pound",
                                                    "pounds", "buck", "bucks", "yen"});
}

// Decimal text moved `shift` places left of the point, as an integer when whole
// ("2.5", 6 -> 2500000), so 1.1k is exactly 1100 and not 1100.0000000000002.
Json decimal_json(const std::string& number, int shift) {
  std::string digits = number;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.erase(0, 1);
  }
  std::string whole = digits, fraction;
  if (size_t dot = digits.find('.'); dot != std::string::npos) {
    whole = digits.substr(0, dot);
    fraction = digits.substr(dot + 1);
  }
  for (; shift > 0; --shift) {
    if (fraction.empty()) {
      whole += '0';
    } else {
      whole += fraction[0];
      fraction.erase(0, 1);
    }
  }
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  while (whole.size() > 1 && whole[0] == '0') whole.erase(0, 1);
  if (whole.empty()) whole = "0";
  if (fraction.empty() && whole.size() <= 15) {
    int64_t value = std::strtoll(whole.c_str(), nullptr, 10);
    return negative ? -value : value;
  }
  std::string text = (negative ? "-" : "") + whole + (fraction.empty() ? "" : "." + fraction);
  return std::strtod(text.c_str(), nullptr);
}

enum class MentionKind { kDate, kPercent, kMoney, kNumber, kCode, kEmail };

struct Mention {
  MentionKind kind = MentionKind::kNumber;
  Json value;
  size_t first = 0;  // tokens [first, last)
  size_t last = 0;
  size_t begin = 0;  // bytes [begin, end)
  size_t end = 0;
  bool currency = false;    // kMoney: an explicit currency sign, code or word
  bool digit_code = false;  // kNumber: five or more plain digits, a code for a code slot
  std::string code_text;    // kNumber with digit_code: the digits as written ("02139")
  std::string problem;      // kDate: shaped like a date but not a usable one, and why
};

class Scanner {
 public:
  Scanner(const std::string& text, int64_t now_ms) : text_(text), now_ms_(now_ms) {
    tokens_ = lex(text);
  }

  std::vector<Mention> scan() {
    std::vector<Mention> out;
    size_t i = 0;
    while (i < tokens_.size()) {
      std::optional<Mention> mention = email(i);
      if (!mention) mention = date(i);
      if (!mention) mention = code(i);
      if (!mention) mention = percent(i);
      if (!mention) mention = money(i);
      if (!mention) mention = number(i);
      if (mention) {
        i = mention->last;
        out.push_back(std::move(*mention));
      } else {
        ++i;
      }
    }
    return out;
  }

  const std::vector<Token>& tokens() const { return tokens_; }

 private:
  const Token* at(size_t i) const { return i < tokens_.size() ? &tokens_[i] : nullptr; }
  const Token* adjacent_at(size_t i) const {
    const Token* token = at(i);
    return token != nullptr && token->adjacent ? token : nullptr;
  }

  Mention make(MentionKind kind, size_t first, size_t last, Json value) const {
    Mention m;
    m.kind = kind;
    m.first = first;
    m.last = last;
    m.begin = tokens_[first].begin;
    m.end = tokens_[last - 1].end;
    m.value = std::move(value);
    return m;
  }

  std::string source(size_t first, size_t last) const {
    return text_.substr(tokens_[first].begin, tokens_[last - 1].end - tokens_[first].begin);
  }

  // A calendar date, or the reason it is not one.
  Mention calendar(size_t first, size_t last, int year, unsigned month, unsigned day) const {
    namespace chrono = std::chrono;
    Mention m = make(MentionKind::kDate, first, last, nullptr);
    chrono::year_month_day date{chrono::year{year}, chrono::month{month}, chrono::day{day}};
    if (month < 1 || month > 12) {
      m.problem = "'" + source(first, last) + "' is not a valid date — months run from 1 to 12";
    } else if (!date.ok()) {
      unsigned last_day = static_cast<unsigned>(
          chrono::year_month_day_last{date.year(), chrono::month_day_last{date.month()}}.day());
      m.problem = "'" + source(first, last) + "' is not a valid date — " + month_name(month) + " " +
                  std::to_string(year) + " has " + std::to_string(last_day) + " days";
    } else {
      char buffer[48];
      std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", year, month, day);
      m.value = buffer;
    }
    return m;
  }

  std::optional<std::chrono::sys_days> today() const {
    if (now_ms_ == 0) return std::nullopt;
    namespace chrono = std::chrono;
    return chrono::floor<chrono::days>(
        chrono::sys_time<chrono::milliseconds>(chrono::milliseconds(now_ms_)));
  }

  // A month and day without a year: the next such day from today on.
  Mention yearless(size_t first, size_t last, unsigned month, unsigned day) const {
    auto now = today();
    if (!now) {
      Mention m = make(MentionKind::kDate, first, last, nullptr);
      m.problem = "'" + source(first, last) + "' has no year — add it, e.g. " + month_name(month) +
                  " " + std::to_string(day) + ", 2027";
      return m;
    }
    namespace chrono = std::chrono;
    int this_year = static_cast<int>(chrono::year_month_day{*now}.year());
    for (int candidate : {this_year, this_year + 1}) {
      chrono::year_month_day date{chrono::year{candidate}, chrono::month{month}, chrono::day{day}};
      if (date.ok() && chrono::sys_days{date} >= *now) {
        return calendar(first, last, candidate, month, day);
      }
    }
    return calendar(first, last, this_year, month, day);  // reports why no such day exists
  }

  std::optional<Mention> date(size_t i) const {
    const Token* t = at(i);
    if (t == nullptr) return std::nullopt;
    // 2027-03-04 or 2027/03/04
    if (is_plain_int(t, 4, 4) && is_symbol(adjacent_at(i + 1), {"-", "/"}) &&
        is_plain_int(adjacent_at(i + 2), 1, 2) && adjacent_at(i + 3) != nullptr &&
        adjacent_at(i + 3)->text == at(i + 1)->text && is_plain_int(adjacent_at(i + 4), 1, 2)) {
      return calendar(i, i + 5, std::stoi(t->text), std::stoul(at(i + 2)->text),
                      std::stoul(at(i + 4)->text));
    }
    // 3/4/2027 is March 4 (US order); a two-digit year is in this century.
    if (is_plain_int(t, 1, 2) && is_symbol(adjacent_at(i + 1), {"/"}) &&
        is_plain_int(adjacent_at(i + 2), 1, 2) && is_symbol(adjacent_at(i + 3), {"/"}) &&
        (is_plain_int(adjacent_at(i + 4), 4, 4) || is_plain_int(adjacent_at(i + 4), 2, 2))) {
      int year = std::stoi(at(i + 4)->text);
      if (year < 100) year += 2000;
      return calendar(i, i + 5, year, std::stoul(t->text), std::stoul(at(i + 2)->text));
    }
    // March 4, 2027 · Mar 4th 2027 · March 4
    if (unsigned month = month_number(t); month != 0 && is_plain_int(at(i + 1), 1, 2)) {
      unsigned day = std::stoul(at(i + 1)->text);
      size_t j = i + 2;
      if (is_word(adjacent_at(j), {"st", "nd", "rd", "th"})) ++j;
      size_t k = is_symbol(at(j), {","}) ? j + 1 : j;
      if (is_plain_int(at(k), 4, 4)) return calendar(i, k + 1, std::stoi(at(k)->text), month, day);
      return yearless(i, j, month, day);
    }
    // 4 March 2027 · 4th of March, 2027 · 4 March
    if (is_plain_int(t, 1, 2)) {
      size_t j = i + 1;
      if (is_word(adjacent_at(j), {"st", "nd", "rd", "th"})) ++j;
      if (is_word(at(j), {"of"}) && month_number(at(j + 1)) != 0) ++j;
      if (unsigned month = month_number(at(j)); month != 0) {
        unsigned day = std::stoul(t->text);
        size_t k = is_symbol(at(j + 1), {","}) ? j + 2 : j + 1;
        if (is_plain_int(at(k), 4, 4)) {
          return calendar(i, k + 1, std::stoi(at(k)->text), month, day);
        }
        return yearless(i, j + 1, month, day);
      }
    }
    return relative_date(i);
  }

  // A date mention for the day `offset` days from today, or the reason there
  // is none (no reference date).
  Mention days_from_today(size_t first, size_t last, int offset) const {
    auto now = today();
    if (!now) {
      Mention m = make(MentionKind::kDate, first, last, nullptr);
      m.problem = "'" + source(first, last) +
                  "' is relative and no reference date is available here — give the date, "
                  "e.g. 2027-03-04";
      return m;
    }
    std::chrono::year_month_day date{*now + std::chrono::days{offset}};
    return calendar(first, last, static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                    static_cast<unsigned>(date.day()));
  }

  // Days from today to weekday `target` (ISO, Monday 0): `how` is "this"
  // (0..6 ahead, today counts), "next" (that day of next week, weeks starting
  // on Monday), "last" (1..7 back) or "" for a bare day name (1..7 ahead).
  int weekday_offset(int target, const std::string& how) const {
    auto now = today();
    if (!now) return 0;
    int iso = static_cast<int>(std::chrono::weekday{*now}.iso_encoding()) - 1;
    int ahead = (target - iso + 7) % 7;
    if (how == "this") return ahead;
    if (how == "next") return 7 - iso + target;
    if (how == "last") return -((iso - target + 7) % 7 == 0 ? 7 : (iso - target + 7) % 7);
    return ahead == 0 ? 7 : ahead;
  }

  // Dates relative to today (UTC): today · tomorrow · yesterday · the day after
  // tomorrow · Friday · this/next/last Friday · in 3 days · in two weeks ·
  // 2 months from now. A weekday before an absolute date ("Tuesday, March 9,
  // 2027") is part of that date.
  std::optional<Mention> relative_date(size_t i) const {
    const Token* t = at(i);
    if (is_word(t, {"day"}) && is_word(at(i + 1), {"after"}) && is_word(at(i + 2), {"tomorrow"})) {
      return days_from_today(i, i + 3, 2);
    }
    if (is_word(t, {"today", "tomorrow", "yesterday"})) {
      return days_from_today(i, i + 1, t->text == "today" ? 0 : t->text == "tomorrow" ? 1 : -1);
    }
    // A weekday: "next"/"this"/"last"/"coming" take short names too ("next tue").
    std::string how;
    size_t day_at = i;
    if (is_word(t, {"next", "this", "last", "coming"}) && weekday_number(at(i + 1), true) >= 0) {
      how = t->text == "coming" ? "" : t->text;
      day_at = i + 1;
    }
    bool after_preposition =
        i > 0 && is_word(&tokens_[i - 1], {"on", "by", "until", "till", "before", "after"});
    int day = weekday_number(at(day_at), day_at != i || after_preposition);
    if (day >= 0) {
      if (day_at == i) {
        // "Tuesday, March 9, 2027": the absolute date says which Tuesday.
        size_t next = is_symbol(at(i + 1), {","}) ? i + 2 : i + 1;
        if (at(next) != nullptr &&
            (at(next)->kind == TokenKind::kNumber || month_number(at(next)) != 0)) {
          if (std::optional<Mention> absolute = date(next); absolute) {
            Mention m = make(MentionKind::kDate, i, absolute->last, absolute->value);
            m.problem = absolute->problem;
            return m;
          }
        }
      }
      return days_from_today(i, day_at + 1, weekday_offset(day, how));
    }
    // "in 3 days" · "in a week" · "2 months from now" · "a week from today"
    size_t count_at = is_word(t, {"in"}) ? i + 1 : i;
    int count = small_count(at(count_at));
    if (count >= 0 && is_period_unit(at(count_at + 1))) {
      size_t last = count_at + 2;
      bool from_now = is_word(at(last), {"from"}) && is_word(at(last + 1), {"now", "today"});
      if (count_at == i && !from_now) return std::nullopt;  // "3 days" alone is a duration
      if (from_now) last += 2;
      const std::string& unit = at(count_at + 1)->text;
      if (unit.starts_with("day")) return days_from_today(i, last, count);
      if (unit.starts_with("week")) return days_from_today(i, last, 7 * count);
      Mention m = days_from_today(i, last, 0);
      if (!m.problem.empty()) return m;
      namespace chrono = std::chrono;
      chrono::year_month_day date{*today()};
      date = unit.starts_with("month") ? date + chrono::months{count} : date + chrono::years{count};
      if (!date.ok())
        date = chrono::year_month_day_last{date.year(), chrono::month_day_last{date.month()}};
      return calendar(i, last, static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                      static_cast<unsigned>(date.day()));
    }
    return std::nullopt;
  }

  // An e-mail address starting at token `i`: local@domain.tld, the local part
  // of letters, digits and . _ % + -, the domain two or more labels ending in
  // letters. A trailing full stop ends the sentence, not the address.
  std::optional<Mention> email(size_t i) const {
    const Token* t = at(i);
    if (t == nullptr || t->kind == TokenKind::kSymbol) return std::nullopt;
    auto local_char = [](char c) {
      return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
    };
    size_t p = t->begin;
    if (p > 0 && (local_char(text_[p - 1]) || text_[p - 1] == '@')) return std::nullopt;
    size_t q = p;
    while (q < text_.size() && local_char(text_[q])) ++q;
    if (q == p || q >= text_.size() || text_[q] != '@') return std::nullopt;
    size_t end = q + 1, labels = 0, last_label = end;
    while (true) {
      size_t label = end;
      while (end < text_.size() && (is_alnum(text_[end]) || text_[end] == '-')) ++end;
      if (end == label) return std::nullopt;
      ++labels;
      last_label = label;
      if (end + 1 < text_.size() && text_[end] == '.' && is_alnum(text_[end + 1])) {
        ++end;
        continue;
      }
      break;
    }
    if (labels < 2 || end - last_label < 2 ||
        !std::all_of(text_.begin() + static_cast<std::ptrdiff_t>(last_label),
                     text_.begin() + static_cast<std::ptrdiff_t>(end), is_alpha)) {
      return std::nullopt;
    }
    size_t last = i;
    while (last < tokens_.size() && tokens_[last].begin < end) ++last;
    if (tokens_[last - 1].end != end) return std::nullopt;  // ends inside a token
    return make(MentionKind::kEmail, i, last, text_.substr(p, end - p));
  }

  // A code starting at token `i` (see the top of this file for what is one).
  std::optional<Mention> code(size_t i) const {
    auto part = [](const Token* token) {
      return token != nullptr && token->kind != TokenKind::kSymbol && token->adjacent;
    };
    const Token* t = at(i);
    if (t == nullptr || t->kind == TokenKind::kSymbol) return std::nullopt;
    if (i > 0 && t->adjacent && tokens_[i - 1].kind != TokenKind::kSymbol) return std::nullopt;
    std::vector<size_t> parts = {i};
    size_t last = i + 1;
    while (true) {
      if (part(at(last))) {
        parts.push_back(last++);
      } else if (is_symbol(adjacent_at(last), {"-", "_", "."}) && part(at(last + 1))) {
        parts.push_back(last + 1);
        last += 2;
      } else {
        break;
      }
    }
    bool letters = false, digits = false;
    size_t length = 0;
    for (size_t k : parts) {
      letters = letters || tokens_[k].kind == TokenKind::kWord;
      digits = digits || tokens_[k].kind == TokenKind::kNumber;
      length += tokens_[k].text.size();
    }
    if (!letters || !digits || length < 3) return std::nullopt;
    // A quantity with its unit ("10k", "24h", "3-day", "4th") is not a code.
    if (parts.size() == 2 && tokens_[parts[0]].kind == TokenKind::kNumber) return std::nullopt;
    return make(MentionKind::kCode, i, last, source(i, last));
  }

  std::optional<Mention> percent(size_t i) const {
    const Token* t = at(i);
    if (t == nullptr || t->kind != TokenKind::kNumber) return std::nullopt;
    if (is_symbol(at(i + 1), {"%"}) || is_word(at(i + 1), {"percent", "pct", "percentage"})) {
      return make(MentionKind::kPercent, i, i + 2, decimal_json(t->text, 0));
    }
    if (is_word(at(i + 1), {"per"}) && is_word(at(i + 2), {"cent"})) {
      return make(MentionKind::kPercent, i, i + 3, decimal_json(t->text, 0));
    }
    return std::nullopt;
  }

  // The number at `i` with its multiplier suffix; sets `last` past both.
  Json scaled(size_t i, size_t& last) const {
    int shift = suffix_shift(at(i + 1), true);
    last = shift > 0 ? i + 2 : i + 1;
    return decimal_json(tokens_[i].text, shift);
  }

  std::optional<Mention> money(size_t i) const {
    const Token* t = at(i);
    if (t == nullptr) return std::nullopt;
    size_t last = 0;
    // $1,200 · € 50 · $2.5m · USD 1200 (and an optional code after: $50 USD)
    if ((is_currency_symbol(t) || is_currency_code(t)) && at(i + 1) != nullptr &&
        at(i + 1)->kind == TokenKind::kNumber) {
      Json value = scaled(i + 1, last);
      if (is_currency_word(at(last))) ++last;
      Mention m = make(MentionKind::kMoney, i, last, std::move(value));
      m.currency = true;
      return m;
    }
    if (t->kind != TokenKind::kNumber) return std::nullopt;
    Json value = scaled(i, last);
    // 1200 USD · 50 euros · 50€ · 3 million dollars
    if (is_currency_word(at(last)) || is_currency_symbol(adjacent_at(last))) {
      Mention m = make(MentionKind::kMoney, i, last + 1, std::move(value));
      m.currency = true;
      return m;
    }
    // 10k: a magnitude suffix alone reads as an amount.
    if (last > i + 1) return make(MentionKind::kMoney, i, last, std::move(value));
    return std::nullopt;
  }

  std::optional<Mention> number(size_t i) const {
    const Token* t = at(i);
    if (t == nullptr || t->kind != TokenKind::kNumber) return std::nullopt;
    // Part of an identifier ("t2", "v3"), not a quantity.
    if (t->adjacent && i > 0 && tokens_[i - 1].kind == TokenKind::kWord) return std::nullopt;
    Mention m = make(MentionKind::kNumber, i, i + 1, decimal_json(t->text, 0));
    const std::string written = source(i, i + 1);
    m.digit_code = written.size() >= 5 && std::all_of(written.begin(), written.end(), is_digit);
    if (m.digit_code) m.code_text = written;
    return m;
  }

  const std::string& text_;
  int64_t now_ms_;
  std::vector<Token> tokens_;
};

SlotType mention_type(const Mention& mention) {
  switch (mention.kind) {
    case MentionKind::kDate: return SlotType::kDate;
    case MentionKind::kPercent: return SlotType::kPercent;
    case MentionKind::kMoney: return SlotType::kMoney;
    case MentionKind::kNumber: return SlotType::kNumber;
    case MentionKind::kCode: return SlotType::kCode;
    case MentionKind::kEmail: return SlotType::kEmail;
  }
  return SlotType::kString;
}

// A mention's value for a slot of `type`: a digit run read as a code keeps
// its digits as written ("02139"), not a number.
Json slot_json(const Mention& mention, SlotType type) {
  if (type == SlotType::kCode && mention.kind == MentionKind::kNumber) {
    return Json(mention.code_text);
  }
  return mention.value;
}

// Whole-word, case-insensitive mentions of an enum slot's choices.
std::vector<SlotValueMatch> find_choices(const SlotSpec& slot, const std::string& text) {
  std::vector<SlotValueMatch> found;
  const std::string haystack = lower(text);
  for (const std::string& choice : slot.choices) {
    const std::string needle = lower(choice);
    if (needle.empty()) continue;
    for (size_t at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + 1)) {
      size_t end = at + needle.size();
      bool starts = at == 0 || !is_alnum(haystack[at - 1]);
      bool ends = end == haystack.size() || !is_alnum(haystack[end]);
      if (starts && ends) found.push_back({choice, at, end});
    }
  }
  // Leftmost first; of two mentions starting together the longer ("in-network"
  // over "in") wins, and mentions inside another are dropped.
  std::sort(found.begin(), found.end(), [](const SlotValueMatch& a, const SlotValueMatch& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::vector<SlotValueMatch> out;
  for (SlotValueMatch& match : found) {
    if (!out.empty() && match.begin < out.back().end) continue;
    out.push_back(std::move(match));
  }
  return out;
}

bool mention_fits(const Mention& mention, SlotType type) {
  switch (type) {
    case SlotType::kDate: return mention.kind == MentionKind::kDate && mention.problem.empty();
    case SlotType::kPercent: return mention.kind == MentionKind::kPercent;
    case SlotType::kMoney: return mention.kind == MentionKind::kMoney;
    case SlotType::kNumber:
      return mention.kind == MentionKind::kNumber ||
             (mention.kind == MentionKind::kMoney && !mention.currency);
    case SlotType::kCode:
      return mention.kind == MentionKind::kCode ||
             (mention.kind == MentionKind::kNumber && mention.digit_code);
    case SlotType::kEmail: return mention.kind == MentionKind::kEmail;
    default: return false;
  }
}

std::string expected_hint(const SlotSpec& slot) {
  switch (slot.type) {
    case SlotType::kPercent: return "expected a percentage like 15%";
    case SlotType::kMoney: return "expected an amount of money like $1,200, 1200 USD or 10k";
    case SlotType::kNumber: return "expected a number like 3, 2.5 or 1,000";
    case SlotType::kDate: return "expected a date like 2027-03-04, 3/4/2027 or March 4, 2027";
    case SlotType::kEnum: {
      std::string list;
      for (size_t i = 0; i < slot.choices.size(); ++i) list += (i ? ", " : "") + slot.choices[i];
      return "expected one of " + list;
    }
    case SlotType::kCode:
      return "expected a code like MBR-123456 or INV-2027-001 (letters and digits)";
    case SlotType::kEmail: return "expected an e-mail address like ana@example.com";
    case SlotType::kString: return "expected a value";
  }
  return "expected a value";
}

std::string kind_plural(SlotType type) {
  switch (type) {
    case SlotType::kPercent: return "percentages";
    case SlotType::kMoney: return "amounts";
    case SlotType::kDate: return "dates";
    case SlotType::kEnum: return "choices";
    case SlotType::kCode: return "codes";
    case SlotType::kEmail: return "e-mail addresses";
    default: return "numbers";
  }
}

}  // namespace

std::vector<SlotValueMatch> find_slot_values(const SlotSpec& slot, const std::string& text,
                                             int64_t now_ms) {
  if (slot.type == SlotType::kString) return {};
  if (slot.type == SlotType::kEnum) return find_choices(slot, text);
  std::vector<SlotValueMatch> out;
  for (Mention& mention : Scanner(text, now_ms).scan()) {
    if (mention_fits(mention, slot.type)) {
      out.push_back({slot_json(mention, slot.type), mention.begin, mention.end, slot.type});
    }
  }
  return out;
}

std::vector<SlotValueMatch> find_typed_values(const std::string& text, int64_t now_ms) {
  std::vector<SlotValueMatch> out;
  for (Mention& mention : Scanner(text, now_ms).scan()) {
    out.push_back({std::move(mention.value), mention.begin, mention.end, mention_type(mention)});
  }
  return out;
}

std::optional<Json> extract_slot_value(const SlotSpec& slot, const std::string& goal,
                                       int64_t now_ms) {
  if (slot.type == SlotType::kString) return std::nullopt;
  if (slot.type == SlotType::kEnum) {
    auto found = find_choices(slot, goal);
    for (const SlotValueMatch& match : found) {
      if (match.value != found.front().value) return std::nullopt;  // ambiguous: ask
    }
    if (found.empty()) return std::nullopt;
    return found.front().value;
  }
  Scanner scanner(goal, now_ms);
  std::vector<Mention> mentions = scanner.scan();
  for (const Mention& mention : mentions) {
    if (mention_fits(mention, slot.type)) return slot_json(mention, slot.type);
  }
  // "cut spend by 15": a percentage without its sign, when nothing else in the
  // goal is a quantity.
  if (slot.type == SlotType::kPercent) {
    std::vector<const Mention*> quantities;
    for (const Mention& mention : mentions) {
      if (mention.kind != MentionKind::kDate) quantities.push_back(&mention);
    }
    if (quantities.size() == 1 && quantities[0]->kind == MentionKind::kNumber &&
        quantities[0]->first > 0 && scanner.tokens()[quantities[0]->first - 1].text == "by") {
      return quantities[0]->value;
    }
  }
  return std::nullopt;
}

Result<Json> parse_slot_value(const SlotSpec& slot, const std::string& text, int64_t now_ms) {
  const std::string answer = trim(text);
  const std::string got = ", got '" + answer + "'";
  if (answer.empty()) {
    return fail(ErrorCode::kInvalidInput, expected_hint(slot) + ", got nothing");
  }
  if (slot.type == SlotType::kString) return Json(answer);

  if (slot.type == SlotType::kEnum) {
    for (const std::string& choice : slot.choices) {
      if (lower(choice) == lower(answer)) return Json(choice);
    }
    auto found = find_choices(slot, answer);
    for (const SlotValueMatch& match : found) {
      if (match.value != found.front().value) {
        return fail(ErrorCode::kInvalidInput,
                    "'" + answer + "' mentions both '" + found.front().value.get<std::string>() +
                        "' and '" + match.value.get<std::string>() + "' — answer with just one");
      }
    }
    if (!found.empty()) return found.front().value;
    std::string close = closest_spelling(answer, slot.choices);
    return fail(
        ErrorCode::kInvalidInput,
        expected_hint(slot) + got + (close.empty() ? "" : "; did you mean '" + close + "'?"));
  }

  std::vector<Mention> mentions = Scanner(answer, now_ms).scan();
  std::vector<const Mention*> fits, numbers;
  for (const Mention& mention : mentions) {
    if (mention_fits(mention, slot.type)) fits.push_back(&mention);
    if (mention.kind == MentionKind::kNumber) numbers.push_back(&mention);
    if (slot.type == SlotType::kDate && mention.kind == MentionKind::kDate &&
        !mention.problem.empty()) {
      return fail(ErrorCode::kInvalidInput, mention.problem);
    }
  }
  if (fits.size() > 1) {
    std::string list;
    for (const Mention* mention : fits) {
      list +=
          (list.empty() ? "" : ", ") + answer.substr(mention->begin, mention->end - mention->begin);
    }
    return fail(ErrorCode::kInvalidInput, "found several " + kind_plural(slot.type) + " in '" +
                                              answer + "' (" + list + ") — give just one");
  }
  if (fits.size() == 1) return slot_json(*fits.front(), slot.type);
  // An answer to "by how much?" or "how much?" may be the bare number.
  if ((slot.type == SlotType::kPercent || slot.type == SlotType::kMoney) && numbers.size() == 1 &&
      mentions.size() == 1) {
    return numbers.front()->value;
  }
  // An answer to "which code?" may be a shorter one ("1058", "7-11"): one word
  // of letters, digits and joiners with a digit in it, and no date or amount.
  bool other_value = std::any_of(mentions.begin(), mentions.end(), [](const Mention& mention) {
    return mention.kind != MentionKind::kNumber;
  });
  if (slot.type == SlotType::kCode && !other_value && is_alnum(answer.front()) &&
      is_alnum(answer.back()) && std::any_of(answer.begin(), answer.end(), is_digit) &&
      std::all_of(answer.begin(), answer.end(),
                  [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; })) {
    return Json(answer);
  }
  return fail(ErrorCode::kInvalidInput, expected_hint(slot) + got);
}

}  // namespace ergon
