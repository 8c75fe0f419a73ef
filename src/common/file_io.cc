#include "common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace litehouse {

bool PreadFull(int fd, char* out, size_t n, off_t offset) {
  while (n > 0) {
    ssize_t got = ::pread(fd, out, n, offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (got == 0) errno = EIO;
      return false;
    }
    out += got;
    n -= static_cast<size_t>(got);
    offset += got;
  }
  return true;
}

bool PwriteFull(int fd, const char* data, size_t n, off_t offset) {
  while (n > 0) {
    ssize_t put = ::pwrite(fd, data, n, offset);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    data += put;
    n -= static_cast<size_t>(put);
    offset += put;
  }
  return true;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::IoError("open " + path + ": " + std::strerror(errno));
  }
  // Read in place, sized from fstat (and grown if the file grew meanwhile).
  struct stat st {};
  std::string out;
  out.resize(::fstat(fd, &st) == 0 && st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : size_t{1} << 16);
  size_t have = 0;
  while (true) {
    if (have == out.size()) out.resize(out.size() * 2);
    ssize_t n = ::read(fd, out.data() + have, out.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Status::IoError("read " + path + ": " + std::strerror(errno));
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(have);
  return out;
}

Status ErrnoStatus(const std::string& what) { return Status::IoError(what + ": " + std::strerror(errno)); }

Status SyncFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + path);
  Status s = ::fsync(fd) == 0 ? Status::OK() : ErrnoStatus("fsync " + path);
  ::close(fd);
  return s;
}

void SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace litehouse
