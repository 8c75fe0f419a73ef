// Whole reads and writes on file descriptors and paths, retried on EINTR and short transfers, for
// the modules that keep their own files (the replication log, backups).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace litehouse {

// Reads exactly `n` bytes at `offset`; false (errno set, EIO at the end of the file) otherwise.
bool PreadFull(int fd, char* out, size_t n, off_t offset);
// Writes all `n` bytes at `offset`; false (errno set) otherwise.
bool PwriteFull(int fd, const char* data, size_t n, off_t offset);
// A file's whole contents.
Result<std::string> ReadWholeFile(const std::string& path);
// An IoError saying `what` failed, with errno's text.
Status ErrnoStatus(const std::string& what);
// fsync of a file by path: its contents last.
Status SyncFile(const std::string& path);
// fsync of a directory, so that a rename or a new file in it lasts; best effort.
void SyncDirectory(const std::string& dir);

}  // namespace litehouse
