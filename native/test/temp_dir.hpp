// A fresh directory under the system's temporary directory, removed with everything in it
// when the test ends (the journal and storage suites).
#pragma once
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

namespace gstest {

class TempDir {
 public:
  explicit TempDir(const char* tag = "test") {
    namespace fs = std::filesystem;
    std::random_device rd;
    for (int attempt = 0;; ++attempt) {
      path_ = fs::temp_directory_path() / ("gamesrv-" + std::string(tag) + "-" + std::to_string(rd()) + "-" + std::to_string(attempt));
      std::error_code ec;
      if (fs::create_directory(path_, ec)) return;
      if (attempt > 100) throw std::runtime_error("cannot create a temporary directory: " + ec.message());
    }
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace gstest
