// Pieces every Storage backend shares (native/src/core only).
#pragma once
#include <string>

#include "gamesrv/storage.hpp"

namespace gamesrv::storage_detail {

// Creates `dir` (and its parents) when missing, the directory itself with mode 0700 on
// POSIX; an existing directory is left as it is.
StorageStatus prepareDataDir(const std::string& dir);

}  // namespace gamesrv::storage_detail
