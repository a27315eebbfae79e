#include "support/care_portal.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>

namespace ergon::testing {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Decodes a chunked body; returns false when it is malformed.
bool dechunk(const std::string& in, std::string& out) {
  std::size_t pos = 0;
  while (true) {
    std::size_t eol = in.find("\r\n", pos);
    if (eol == std::string::npos) return false;
    const std::size_t size = std::strtoul(in.substr(pos, eol - pos).c_str(), nullptr, 16);
    pos = eol + 2;
    if (size == 0) return true;
    if (pos + size > in.size()) return false;
    out.append(in, pos, size);
    pos += size + 2;
  }
}

}  // namespace

std::string HttpReply::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

Json HttpReply::json() const {
  return Json::parse(body, nullptr, false);
}

HttpReply http_request(int port, const std::string& method, const std::string& target,
                       const std::string& body, const std::map<std::string, std::string>& headers) {
  HttpReply reply;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    reply.error = std::string("socket: ") + std::strerror(errno);
    return reply;
  }
  timeval timeout{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    reply.error = std::string("connect: ") + std::strerror(errno);
    close(fd);
    return reply;
  }
  std::string request = method + " " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      reply.error = std::string("send: ") + std::strerror(errno);
      close(fd);
      return reply;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buffer[65536];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0) {
      reply.error = std::string("recv: ") + std::strerror(errno);
      close(fd);
      return reply;
    }
    if (n == 0) break;
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);

  const std::size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || !raw.starts_with("HTTP/1.")) {
    reply.error = "malformed response: " + raw.substr(0, 80);
    return reply;
  }
  const std::string head = raw.substr(0, head_end);
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  const std::size_t space = status_line.find(' ');
  const int status = space == std::string::npos ? 0 : std::atoi(status_line.c_str() + space + 1);
  while (line_end != std::string::npos) {
    const std::size_t next = head.find("\r\n", line_end + 2);
    const std::string line = head.substr(
        line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::size_t value = colon + 1;
      while (value < line.size() && line[value] == ' ') ++value;
      reply.headers.emplace(lower(line.substr(0, colon)), line.substr(value));
    }
    line_end = next;
  }
  std::string content = raw.substr(head_end + 4);
  if (lower(reply.header("transfer-encoding")) == "chunked") {
    std::string decoded;
    if (!dechunk(content, decoded)) {
      reply.error = "malformed chunked body";
      return reply;
    }
    content = std::move(decoded);
  }
  reply.status = status;
  reply.body = std::move(content);
  return reply;
}

CarePortal::CarePortal(const std::vector<std::string>& extra_args,
                       const std::map<std::string, std::string>& env)
    : child_(
          [&] {
            std::vector<std::string> argv = {bin("care_portal"), "--port", "0"};
            argv.insert(argv.end(), extra_args.begin(), extra_args.end());
            return argv;
          }(),
          [&] {
            RunOptions options;
            options.env = env;
            return options;
          }()) {
  const std::string line = child_.wait_for_line("listening on");
  const auto colon = line.rfind(':');
  if (line.empty() || colon == std::string::npos) {
    throw std::runtime_error("care_portal did not start");
  }
  port_ = std::atoi(line.c_str() + colon + 1);
  url_ = "http://127.0.0.1:" + std::to_string(port_);
}

HttpReply CarePortal::get(const std::string& target) const {
  return http_request(port_, "GET", target);
}

HttpReply CarePortal::post(const std::string& target, const std::string& body) const {
  if (body.empty()) return http_request(port_, "POST", target);
  return http_request(port_, "POST", target, body, {{"Content-Type", "application/json"}});
}

Json CarePortal::control(const std::string& method, const std::string& target) const {
  const HttpReply reply = method == "GET" ? get(target) : post(target);
  if (reply.status != 200) {
    throw std::runtime_error(method + " " + target + " -> " + std::to_string(reply.status) + " " +
                             reply.error + reply.body);
  }
  return reply.json();
}

Json CarePortal::state() const {
  return control("GET", "/_control/state");
}
Json CarePortal::calls() const {
  return control("GET", "/_control/calls")["calls"];
}

void CarePortal::reset(const Json& body) const {
  const HttpReply reply = post("/_control/reset", body.empty() ? "" : body.dump());
  if (reply.status != 200)
    throw std::runtime_error("reset -> " + std::to_string(reply.status) + " " + reply.body);
}

void CarePortal::set_layout(const std::string& layout) const {
  control("POST", "/_control/layout?v=" + layout);
}
void CarePortal::captcha(bool on) const {
  control("POST", std::string("/_control/captcha?on=") + (on ? "1" : "0"));
}
void CarePortal::solve_captcha() const {
  control("POST", "/_control/captcha/solve");
}
void CarePortal::overlay(bool on) const {
  control("POST", std::string("/_control/overlay?on=") + (on ? "1" : "0"));
}
void CarePortal::inject(bool on) const {
  control("POST", std::string("/_control/inject?on=") + (on ? "1" : "0"));
}
void CarePortal::expire_sessions() const {
  control("POST", "/_control/session/expire");
}

std::string random_password() {
  std::mt19937_64 random(std::random_device{}());
  std::ostringstream out;
  out << "cp-" << std::hex << random() << random();
  return out.str();
}

std::string days_from_today(int days) {
  auto day = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) +
             std::chrono::days(days);
  std::chrono::year_month_day ymd(day);
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

RunResult CarePortal::stop(int signal) {
  child_.kill(signal);
  return child_.wait();
}

}  // namespace ergon::testing
