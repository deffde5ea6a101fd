// The backend-neutral part of Storage: error names, the factory by name, the data directory.
#include "gamesrv/storage.hpp"

#include <filesystem>
#include <system_error>

#include "storage_internal.hpp"

namespace gamesrv {

const char* toString(StorageErrc c) noexcept {
  switch (c) {
    case StorageErrc::Ok: return "ok";
    case StorageErrc::NotBuilt: return "not_built";
    case StorageErrc::OpenFailed: return "open_failed";
    case StorageErrc::Closed: return "closed";
    case StorageErrc::Sql: return "sql_error";
    case StorageErrc::ReadOnly: return "read_only";
    case StorageErrc::MultipleStatements: return "multiple_statements";
    case StorageErrc::BadParams: return "bad_params";
    case StorageErrc::Timeout: return "timeout";
    case StorageErrc::Cancelled: return "cancelled";
  }
  return "unknown";
}

std::unique_ptr<Storage> makeStorage(std::string_view backend) {
  if (backend == "sqlite") return makeSqliteStorage();
  if (backend == "postgres") return makePostgresStorage();
  return nullptr;
}

namespace storage_detail {

StorageStatus prepareDataDir(const std::string& dir) {
  namespace fs = std::filesystem;
  if (dir.empty()) return StorageStatus::failure(StorageErrc::OpenFailed, "no data directory given");
  std::error_code ec;
  const fs::path p(dir);
  if (fs::is_directory(p, ec)) return StorageStatus::success();
  fs::create_directories(p, ec);
  if (ec) {
    return StorageStatus::failure(StorageErrc::OpenFailed,
                                  "cannot create the data directory " + dir + ": " + ec.message());
  }
  // The database holds every player: only its owner may read it. (On Windows this call
  // only touches the read-only attribute; the directory keeps its inherited ACL.)
  fs::permissions(p, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) {
    return StorageStatus::failure(StorageErrc::OpenFailed,
                                  "cannot restrict the data directory " + dir + " to its owner: " + ec.message());
  }
  return StorageStatus::success();
}

}  // namespace storage_detail
}  // namespace gamesrv
