// The file replica: keys are files under a directory, written as Litestream's file client writes
// them (`name.tmp`, fsync, rename, then the directory synced), their mtime set to the time given.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "backup/replica_client.h"
#include "common/file_io.h"

namespace litehouse::backup {
namespace {

class FileReplicaClient : public ReplicaClient {
 public:
  FileReplicaClient(std::string root, std::string url) : root_(std::move(root)), url_(std::move(url)) {}

  Status Put(const std::string& key, std::string_view data, WallClock::time_point modified) override {
    const std::filesystem::path path = Path(key);
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return Status::IoError("create " + path.parent_path().string() + ": " + ec.message());
    const std::string tmp = path.string() + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("create " + tmp);
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Status s = ErrnoStatus("write " + tmp);
        ::close(fd);
        ::unlink(tmp.c_str());
        return s;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    const auto since = modified.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(secs.count());
    times[0].tv_nsec = times[1].tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since - secs).count());
    if (::fsync(fd) != 0 || ::futimens(fd, times) != 0) {
      Status s = ErrnoStatus("sync " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("rename " + tmp);
    SyncDirectory(path.parent_path().string());
    return Status::OK();
  }

  Result<std::string> Get(const std::string& key) override { return ReadWholeFile(Path(key).string()); }

  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    const std::filesystem::path base = Path(prefix);
    std::error_code ec;
    if (!std::filesystem::exists(base, ec)) return out;
    for (auto it = std::filesystem::recursive_directory_iterator(base, ec); !ec && it != std::filesystem::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const std::string path = it->path().string();
      if (path.size() > 4 && path.compare(path.size() - 4, 4, ".tmp") == 0) continue;  // a write in progress
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) continue;
      ObjectInfo info;
      info.key = std::filesystem::relative(it->path(), root_).generic_string();
      info.size = static_cast<uint64_t>(st.st_size);
      info.modified = WallClock::time_point(std::chrono::duration_cast<WallClock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
      out.push_back(std::move(info));
    }
    if (ec) return Status::IoError("list " + base.string() + ": " + ec.message());
    return out;
  }

  Status Delete(const std::string& key) override {
    const std::string path = Path(key).string();
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("delete " + path);
    // Directories left empty go too, up to the root (as S3 has none): Litestream would list an empty
    // generations/<GEN>/ as a generation.
    std::error_code ec;
    for (auto dir = Path(key).parent_path(); dir.string().size() > root_.size() && std::filesystem::is_empty(dir, ec) && !ec;
         dir = dir.parent_path()) {
      if (::rmdir(dir.c_str()) != 0) break;
    }
    return Status::OK();
  }

  std::string url() const override { return url_; }

 private:
  std::filesystem::path Path(const std::string& key) const { return std::filesystem::path(root_) / key; }

  std::string root_;
  std::string url_;
};

}  // namespace

Result<std::unique_ptr<ReplicaClient>> OpenS3ReplicaClient(const std::string& url, const S3Credentials& credentials);  // s3_replica.cc

Result<std::unique_ptr<ReplicaClient>> OpenReplicaClient(const std::string& url, const S3Credentials& credentials) {
  std::string path;
  if (url.rfind("s3://", 0) == 0) return OpenS3ReplicaClient(url, credentials);
  if (url.rfind("file://", 0) == 0) {
    path = url.substr(7);
  } else if (!url.empty() && url[0] == '/') {
    path = url;
  } else {
    return Status::InvalidArgument("unsupported backup URL " + url + ": use file:///absolute/path or s3://bucket/path");
  }
  if (path.empty() || path[0] != '/') return Status::InvalidArgument("a file backup URL needs an absolute path: " + url);
  return std::unique_ptr<ReplicaClient>(new FileReplicaClient(path, url));
}

}  // namespace litehouse::backup
