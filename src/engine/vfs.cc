#include "engine/vfs.h"

#include <atomic>
#include <cstring>

namespace litehouse::engine {
namespace {

// An open file: our header, then the platform VFS's file (szOsFile bytes) right after it.
struct File {
  sqlite3_file base;  // pMethods: kMethods while the platform file is open, else null
  char* real_name;    // sqlite3_malloc'd; the platform file keeps a pointer to it until closed
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};
static_assert(sizeof(File) % 8 == 0, "the platform file after it must stay 8-byte aligned");

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real(); }
const sqlite3_io_methods* M(sqlite3_file* f) { return Real(f)->pMethods; }

int Close(sqlite3_file* f) {
  auto* file = reinterpret_cast<File*>(f);
  int rc = M(f)->xClose(Real(f));
  sqlite3_free(file->real_name);
  file->real_name = nullptr;
  return rc;
}
int Read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) { return M(f)->xRead(Real(f), p, n, off); }
int Write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) { return M(f)->xWrite(Real(f), p, n, off); }
int Truncate(sqlite3_file* f, sqlite3_int64 size) { return M(f)->xTruncate(Real(f), size); }
int Sync(sqlite3_file* f, int flags) { return M(f)->xSync(Real(f), flags); }
int FileSize(sqlite3_file* f, sqlite3_int64* size) { return M(f)->xFileSize(Real(f), size); }
int Lock(sqlite3_file* f, int level) { return M(f)->xLock(Real(f), level); }
int Unlock(sqlite3_file* f, int level) { return M(f)->xUnlock(Real(f), level); }
int CheckReservedLock(sqlite3_file* f, int* out) { return M(f)->xCheckReservedLock(Real(f), out); }
int FileControl(sqlite3_file* f, int op, void* arg) { return M(f)->xFileControl(Real(f), op, arg); }
int SectorSize(sqlite3_file* f) { return M(f)->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) { return M(f)->xDeviceCharacteristics(Real(f)); }
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return M(f)->xShmMap(Real(f), region, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) { return M(f)->xShmLock(Real(f), offset, n, flags); }
void ShmBarrier(sqlite3_file* f) { M(f)->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int delete_flag) { return M(f)->xShmUnmap(Real(f), delete_flag); }
int Fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) { return M(f)->xFetch(Real(f), off, n, out); }
int Unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return M(f)->xUnfetch(Real(f), off, p); }

// Version 3, as the unix VFS's files are (HiddenDirVfs::Register refuses a platform VFS below 3).
constexpr sqlite3_io_methods kMethods = {
    3,        Close,    Read,      Write,      Truncate,  Sync,     FileSize, Lock,    Unlock,
    CheckReservedLock,  FileControl, SectorSize, DeviceCharacteristics, ShmMap, ShmLock, ShmBarrier,
    ShmUnmap, Fetch,    Unfetch};

sqlite3_vfs* Platform(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }
const std::string& DirOf(sqlite3_vfs* vfs);  // below: the directory of the HiddenDirVfs `vfs` is

bool IsHidden(const char* name) { return name != nullptr && name[0] != '\0' && name[0] != '/'; }

// `name` in the directory, followed by the empty URI parameter list SQLite's name functions expect
// (three NULs), in sqlite3_malloc'd memory; null when out of memory.
char* RealName(sqlite3_vfs* vfs, const char* name) {
  const std::string& dir = DirOf(vfs);
  size_t n = std::strlen(name);
  auto* out = static_cast<char*>(sqlite3_malloc64(dir.size() + 1 + n + 3));
  if (out == nullptr) return nullptr;
  std::memcpy(out, dir.data(), dir.size());
  out[dir.size()] = '/';
  std::memcpy(out + dir.size() + 1, name, n);
  std::memset(out + dir.size() + 1 + n, 0, 3);
  return out;
}

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* file = reinterpret_cast<File*>(f);
  file->base.pMethods = nullptr;
  file->real_name = nullptr;
  const char* real = name;
  if (IsHidden(name)) {
    file->real_name = RealName(vfs, name);
    if (file->real_name == nullptr) return SQLITE_NOMEM;
    real = file->real_name;
  }
  int rc = Platform(vfs)->xOpen(Platform(vfs), real, file->real(), flags, out_flags);
  // SQLite calls xClose whenever pMethods is set, even after a failed open: mirror the platform's.
  if (file->real()->pMethods != nullptr) {
    file->base.pMethods = &kMethods;
  } else {
    sqlite3_free(file->real_name);
    file->real_name = nullptr;
  }
  return rc;
}

// Runs `op` on the real name of `name`.
template <typename Op>
int WithRealName(sqlite3_vfs* vfs, const char* name, Op op) {
  if (!IsHidden(name)) return op(name);
  char* real = RealName(vfs, name);
  if (real == nullptr) return SQLITE_IOERR_NOMEM;
  int rc = op(real);
  sqlite3_free(real);
  return rc;
}

int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return WithRealName(vfs, name, [&](const char* n) { return Platform(vfs)->xDelete(Platform(vfs), n, sync_dir); });
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return WithRealName(vfs, name, [&](const char* n) { return Platform(vfs)->xAccess(Platform(vfs), n, flags, out); });
}
// A hidden name stays as it is: it is the only name SQLite keeps, and shows.
int FullPathname(sqlite3_vfs* vfs, const char* name, int n_out, char* out) {
  if (!IsHidden(name)) return Platform(vfs)->xFullPathname(Platform(vfs), name, n_out, out);
  size_t n = std::strlen(name);
  if (n + 1 > static_cast<size_t>(n_out)) return SQLITE_CANTOPEN;
  std::memcpy(out, name, n + 1);
  return SQLITE_OK;
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) { return Platform(vfs)->xDlOpen(Platform(vfs), name); }
void DlError(sqlite3_vfs* vfs, int n, char* out) { Platform(vfs)->xDlError(Platform(vfs), n, out); }
void (*DlSym(sqlite3_vfs* vfs, void* lib, const char* sym))(void) { return Platform(vfs)->xDlSym(Platform(vfs), lib, sym); }
void DlClose(sqlite3_vfs* vfs, void* lib) { Platform(vfs)->xDlClose(Platform(vfs), lib); }
int Randomness(sqlite3_vfs* vfs, int n, char* out) { return Platform(vfs)->xRandomness(Platform(vfs), n, out); }
int Sleep(sqlite3_vfs* vfs, int us) { return Platform(vfs)->xSleep(Platform(vfs), us); }
int CurrentTime(sqlite3_vfs* vfs, double* out) { return Platform(vfs)->xCurrentTime(Platform(vfs), out); }
int GetLastError(sqlite3_vfs* vfs, int n, char* out) { return Platform(vfs)->xGetLastError(Platform(vfs), n, out); }
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) { return Platform(vfs)->xCurrentTimeInt64(Platform(vfs), out); }
int SetSystemCall(sqlite3_vfs* vfs, const char* name, sqlite3_syscall_ptr p) {
  return Platform(vfs)->xSetSystemCall(Platform(vfs), name, p);
}
sqlite3_syscall_ptr GetSystemCall(sqlite3_vfs* vfs, const char* name) {
  return Platform(vfs)->xGetSystemCall(Platform(vfs), name);
}
const char* NextSystemCall(sqlite3_vfs* vfs, const char* name) { return Platform(vfs)->xNextSystemCall(Platform(vfs), name); }

}  // namespace

// What SQLite holds: the sqlite3_vfs first, so a function given the sqlite3_vfs finds the rest.
struct HiddenDirVfs::Registration {
  sqlite3_vfs vfs;
  const std::string* dir;
};

namespace {
const std::string& DirOf(sqlite3_vfs* vfs) {
  return *reinterpret_cast<HiddenDirVfs::Registration*>(vfs)->dir;
}
}  // namespace

HiddenDirVfs::HiddenDirVfs(std::string dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {}

Result<std::unique_ptr<HiddenDirVfs>> HiddenDirVfs::Register(std::string dir, const char* platform_name) {
  if (dir.empty() || dir[0] != '/') return Status::InvalidArgument("HiddenDirVfs needs an absolute directory: " + dir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  sqlite3_vfs* platform = sqlite3_vfs_find(platform_name);
  if (platform == nullptr || platform->iVersion < 3) {
    return Status::Internal(std::string("no platform VFS of version 3 named ") + (platform_name ? platform_name : "(default)"));
  }
  static std::atomic<int> counter{0};
  std::unique_ptr<HiddenDirVfs> self(new HiddenDirVfs(std::move(dir), "litehouse-" + std::to_string(++counter)));
  auto registered = std::make_unique<Registration>();
  sqlite3_vfs& v = registered->vfs;
  v.iVersion = 3;
  v.szOsFile = static_cast<int>(sizeof(File)) + platform->szOsFile;
  v.mxPathname = platform->mxPathname;
  v.zName = self->name_.c_str();
  v.pAppData = platform;
  v.xOpen = Open;
  v.xDelete = Delete;
  v.xAccess = Access;
  v.xFullPathname = FullPathname;
  v.xDlOpen = DlOpen;
  v.xDlError = DlError;
  v.xDlSym = DlSym;
  v.xDlClose = DlClose;
  v.xRandomness = Randomness;
  v.xSleep = Sleep;
  v.xCurrentTime = CurrentTime;
  v.xGetLastError = GetLastError;
  v.xCurrentTimeInt64 = CurrentTimeInt64;
  v.xSetSystemCall = SetSystemCall;
  v.xGetSystemCall = GetSystemCall;
  v.xNextSystemCall = NextSystemCall;
  registered->dir = &self->dir_;
  int rc = sqlite3_vfs_register(&registered->vfs, 0);
  if (rc != SQLITE_OK) return Status::Sqlite(rc, "cannot register the VFS");
  self->registered_ = std::move(registered);
  return self;
}

HiddenDirVfs::~HiddenDirVfs() {
  if (registered_) sqlite3_vfs_unregister(&registered_->vfs);
}

}  // namespace litehouse::engine
