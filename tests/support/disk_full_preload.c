/* A full disk, injected into a real process: an LD_PRELOAD library for the integration tests.
 *
 *   LD_PRELOAD=.../libdisk_full_preload.so DISK_FULL_DIR=/abs/dir  <program>
 *
 * While the file DISK_FULL_DIR/.disk-full exists, every write to a file under DISK_FULL_DIR fails
 * as it fails on a full disk: write, pwrite, pwrite64, writev, pwritev and fallocate return -1 with
 * errno ENOSPC (posix_fallocate returns ENOSPC). Remove the file and the disk has room again. Files
 * elsewhere (the log on stderr, other directories) are not touched.
 *
 * The test moves the fault by creating and removing the file: no timing, no size to guess. Only for
 * tests; never linked into the product. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int full(int fd) {
  const char* dir = getenv("DISK_FULL_DIR");
  if (dir == NULL || *dir == '\0') return 0;
  char flag[4096];
  snprintf(flag, sizeof flag, "%s/.disk-full", dir);
  if (access(flag, F_OK) != 0) return 0;
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  size_t len = strlen(dir);
  return strncmp(path, dir, len) == 0 && (path[len] == '/' || path[len] == '\0');
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t write(int fd, const void* buf, size_t n) {
  if (full(fd)) return errno = ENOSPC, -1;
  return REAL(write)(fd, buf, n);
}
ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (full(fd)) return errno = ENOSPC, -1;
  return REAL(pwrite)(fd, buf, n, off);
}
ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  if (full(fd)) return errno = ENOSPC, -1;
  return REAL(pwrite64)(fd, buf, n, off);
}
ssize_t writev(int fd, const struct iovec* iov, int count) {
  if (full(fd)) return errno = ENOSPC, -1;
  return REAL(writev)(fd, iov, count);
}
ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t off) {
  if (full(fd)) return errno = ENOSPC, -1;
  return REAL(pwritev)(fd, iov, count, off);
}
int fallocate(int fd, int mode, off_t off, off_t len) {
  if (full(fd)) return errno = ENOSPC, -1;
  return REAL(fallocate)(fd, mode, off, len);
}
int posix_fallocate(int fd, off_t off, off_t len) {
  if (full(fd)) return ENOSPC;
  return REAL(posix_fallocate)(fd, off, len);
}
