// Storage on POSIX: the data directory a store creates is its owner's alone.
#include <sys/stat.h>

#include "harness.hpp"
#include "storage_test_support.hpp"

using namespace gamesrv;

namespace {

TEST(a_created_data_dir_has_mode_0700) {
  const auto backends = gstest::storageBackends();
  CHECK(!backends.empty());
  gstest::TempDir dir;
  StorageConfig config = backends.front().config(dir);
  config.dataDir = (dir.path() / "state" / "gamesrv" / "srv").string();
  auto store = backends.front().make();
  const StorageStatus st = store->open(config);
  CHECK_MSG(st.ok(), st.message);
  struct stat sb {};
  CHECK_EQ(::stat(config.dataDir.c_str(), &sb), 0);
  CHECK_EQ(sb.st_mode & 0777, 0700u);
  store->close();
}

}  // namespace

GS_TEST_MAIN()
