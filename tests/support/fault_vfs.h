// FaultVfs: a SQLite VFS for tests that passes everything to the default VFS, counts writes and
// syncs per kind of file, and fails the ones a test arms (SQLITE_IOERR_WRITE, SQLITE_FULL, ...).
//
//   auto& vfs = litehouse::testing::FaultVfs::Get();   // registered as "fault", not the default
//   options.vfs = vfs.name();
//   vfs.Arm(FaultVfs::kWrite, FaultVfs::kDatabase, SQLITE_IOERR_WRITE);  // every write of the db file fails
//   ...
//   vfs.Disarm();
//
// The file kinds are told apart by SQLite's open flags (main database, WAL); a checkpoint writes the
// main database file, a commit writes and syncs the WAL. Counters and faults are process-wide and
// atomic: a test resets them (Disarm, ResetCounts) and must not run beside another that uses them.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstring>

namespace litehouse::testing {

class FaultVfs {
 public:
  enum Op { kWrite, kSync, kOps };
  enum Target { kDatabase, kWal, kOther, kTargets };

  // The one instance, registered with SQLite on first use.
  static FaultVfs& Get() {
    static FaultVfs* vfs = new FaultVfs();  // never destroyed: SQLite keeps a pointer to it
    return *vfs;
  }
  const char* name() const { return "fault"; }

  // From now on, every `op` on a `target` file fails with `rc`, after `skip` more succeed.
  void Arm(Op op, Target target, int rc, int skip = 0) {
    skip_[op][target] = skip;
    rc_[op][target] = rc;
  }
  void Disarm() {
    for (auto& row : rc_)
      for (auto& rc : row) rc = SQLITE_OK;
  }
  int count(Op op, Target target) const { return counts_[op][target].load(); }
  void ResetCounts() {
    for (auto& row : counts_)
      for (auto& c : row) c = 0;
  }

 private:
  struct File {
    sqlite3_file base;
    Target target;
    sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  };

  FaultVfs() {
    real_ = sqlite3_vfs_find(nullptr);
    std::memcpy(&vfs_, real_, sizeof(vfs_));
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.pNext = nullptr;
    vfs_.zName = "fault";
    vfs_.pAppData = this;
    vfs_.xOpen = &Open;
    Disarm();
    ResetCounts();
    for (auto& row : skip_)
      for (auto& n : row) n = 0;
    sqlite3_vfs_register(&vfs_, /*makeDflt=*/0);
  }

  static FaultVfs& Of(sqlite3_vfs* vfs) { return *static_cast<FaultVfs*>(vfs->pAppData); }
  static File& Of(sqlite3_file* f) { return *reinterpret_cast<File*>(f); }

  // The error armed for `op` on `target`, counting the call.
  int Check(Op op, Target target) {
    ++counts_[op][target];
    if (rc_[op][target] == SQLITE_OK) return SQLITE_OK;
    if (skip_[op][target] > 0) {
      --skip_[op][target];
      return SQLITE_OK;
    }
    return rc_[op][target];
  }

  static int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    FaultVfs& self = Of(vfs);
    File& f = Of(file);
    f.base.pMethods = nullptr;
    f.target = (flags & SQLITE_OPEN_MAIN_DB) ? kDatabase : (flags & SQLITE_OPEN_WAL) ? kWal : kOther;
    int rc = self.real_->xOpen(self.real_, name, f.real(), flags, out_flags);
    if (rc != SQLITE_OK || !f.real()->pMethods) return rc;
    self.MakeMethods(f.real()->pMethods);
    f.base.pMethods = &self.methods_;
    return SQLITE_OK;
  }

  // The methods of our files: the real file's, with write and sync checked first. Every real file
  // of the default VFS has the same methods, so one table serves them all.
  void MakeMethods(const sqlite3_io_methods* real) {
    if (real_methods_) return;
    real_methods_ = real;
    methods_ = *real;
    methods_.xClose = [](sqlite3_file* f) {
      int rc = Of(f).real()->pMethods->xClose(Of(f).real());
      return rc;
    };
    methods_.xRead = [](sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
      return Of(f).real()->pMethods->xRead(Of(f).real(), buf, n, off);
    };
    methods_.xWrite = [](sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
      if (int rc = Get().Check(kWrite, Of(f).target); rc != SQLITE_OK) return rc;
      return Of(f).real()->pMethods->xWrite(Of(f).real(), buf, n, off);
    };
    methods_.xTruncate = [](sqlite3_file* f, sqlite3_int64 size) { return Of(f).real()->pMethods->xTruncate(Of(f).real(), size); };
    methods_.xSync = [](sqlite3_file* f, int flags) {
      if (int rc = Get().Check(kSync, Of(f).target); rc != SQLITE_OK) return rc;
      return Of(f).real()->pMethods->xSync(Of(f).real(), flags);
    };
    methods_.xFileSize = [](sqlite3_file* f, sqlite3_int64* size) { return Of(f).real()->pMethods->xFileSize(Of(f).real(), size); };
    methods_.xLock = [](sqlite3_file* f, int level) { return Of(f).real()->pMethods->xLock(Of(f).real(), level); };
    methods_.xUnlock = [](sqlite3_file* f, int level) { return Of(f).real()->pMethods->xUnlock(Of(f).real(), level); };
    methods_.xCheckReservedLock = [](sqlite3_file* f, int* out) {
      return Of(f).real()->pMethods->xCheckReservedLock(Of(f).real(), out);
    };
    methods_.xFileControl = [](sqlite3_file* f, int op, void* arg) {
      return Of(f).real()->pMethods->xFileControl(Of(f).real(), op, arg);
    };
    methods_.xSectorSize = [](sqlite3_file* f) { return Of(f).real()->pMethods->xSectorSize(Of(f).real()); };
    methods_.xDeviceCharacteristics = [](sqlite3_file* f) {
      return Of(f).real()->pMethods->xDeviceCharacteristics(Of(f).real());
    };
    methods_.xShmMap = [](sqlite3_file* f, int pg, int sz, int extend, void volatile** out) {
      return Of(f).real()->pMethods->xShmMap(Of(f).real(), pg, sz, extend, out);
    };
    methods_.xShmLock = [](sqlite3_file* f, int offset, int n, int flags) {
      return Of(f).real()->pMethods->xShmLock(Of(f).real(), offset, n, flags);
    };
    methods_.xShmBarrier = [](sqlite3_file* f) { Of(f).real()->pMethods->xShmBarrier(Of(f).real()); };
    methods_.xShmUnmap = [](sqlite3_file* f, int del) { return Of(f).real()->pMethods->xShmUnmap(Of(f).real(), del); };
    methods_.xFetch = [](sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
      return Of(f).real()->pMethods->xFetch(Of(f).real(), off, n, out);
    };
    methods_.xUnfetch = [](sqlite3_file* f, sqlite3_int64 off, void* p) {
      return Of(f).real()->pMethods->xUnfetch(Of(f).real(), off, p);
    };
  }

  sqlite3_vfs* real_ = nullptr;
  sqlite3_vfs vfs_{};
  const sqlite3_io_methods* real_methods_ = nullptr;
  sqlite3_io_methods methods_{};
  std::atomic<int> rc_[kOps][kTargets];
  std::atomic<int> skip_[kOps][kTargets];
  std::atomic<int> counts_[kOps][kTargets];
};

}  // namespace litehouse::testing
