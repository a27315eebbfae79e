// The web console's files (web/), embedded at build time by
// cmake/embed_files.cmake: file name -> bytes.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace ergon::serve_internal {

const std::map<std::string, std::string_view>& console_files();

}  // namespace ergon::serve_internal
