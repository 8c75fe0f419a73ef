// WalCapture: every committed transaction's pages, read from SQLite's WAL at commit, handed to the
// modules that keep them (the replication log; later the backup). One capture feeds them all.
//
// SQLite's WAL file (https://www.sqlite.org/fileformat2.html#walformat), big-endian throughout:
//
//   header, 32 bytes:  magic u32 (0x377f0682 | 0x377f0683: checksums little/big-endian)
//                      version u32 (3007000), page_size u32, checkpoint_seq u32,
//                      salt1 u32, salt2 u32, checksum1 u32, checksum2 u32
//   frame i (1-based) at 32 + (i-1) * (24 + page_size):
//                      page_no u32, db_size u32 (pages after commit on a commit frame, else 0),
//                      salt1 u32, salt2 u32 (the header's), checksum1 u32, checksum2 u32, page bytes
//
// A frame belongs to the WAL's current contents only while its salts are the header's: when the
// WAL is restarted (after a checkpoint copied everything), the next writer writes a new header with
// new salts and overwrites frames from the first.
//
// How: the engine calls OnCommit (its CommitObserver) on the committing connection's thread after
// each commit, with the WAL's size in frames, while the write lock is still held. Every frame past
// the ones already read belongs to that one transaction (a rolled-back transaction's spilled frames
// are overwritten by the next writer before any commit reports them). So the capture reads exactly
// those frames, with one pread on a descriptor it keeps open, and hands them on before anyone else
// can write. Frames whose salts are not the ones last seen mean the WAL began anew (restarted after a
// checkpoint, or deleted and created again when SQLite's last connection closed): the capture then
// opens the file again, reads its header, and reads from the first frame. The WAL must be empty when
// capture starts (Start checks): the frames before it are in the database file.
//
// Thread safety: OnCommit runs under the engine's write lock, so calls never overlap; the sinks are
// called there, in commit order. MayCheckpoint is always true: nothing is left uncaptured after a
// commit returns.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "engine/database.h"

namespace litehouse::replication {

// One committed transaction as the WAL holds it.
struct CommittedTransaction {
  uint32_t page_size = 0;
  uint32_t db_size_pages = 0;         // the database's size in pages after the commit
  std::map<uint32_t, std::string_view> pages;  // page_no -> its last image in this transaction
  // The raw WAL bytes: the header as it is now, and this transaction's frames, the first being frame
  // `first_frame` (1-based) of the WAL. `wal_restarted`: the WAL began anew with these frames.
  std::string_view wal_header;
  std::string_view frames;
  uint32_t first_frame = 0;
  bool wal_restarted = false;
};

// Receives every committed transaction, in commit order, under the write lock. A failure is the
// sink's to handle (it cannot undo the commit): it should remember that it lost continuity.
class TransactionSink {
 public:
  virtual ~TransactionSink() = default;
  virtual void OnTransaction(const CommittedTransaction& txn) = 0;
  // The capture failed and stops: no further transaction will be handed on, so whatever the sink
  // keeps has lost continuity from now on (called once, under the write lock).
  virtual void OnCaptureLost(const Status& why) = 0;
};

class WalCapture : public engine::CommitObserver {
 public:
  // `db_path` is the database file; its WAL is `db_path + "-wal"`.
  explicit WalCapture(std::string db_path);
  ~WalCapture() override;
  WalCapture(const WalCapture&) = delete;
  WalCapture& operator=(const WalCapture&) = delete;

  // Adds a sink; before Start only.
  void AddSink(TransactionSink* sink) { sinks_.push_back(sink); }
  // Begins capturing. The WAL must be empty (checkpointed with TRUNCATE, or absent).
  Status Start();

  void OnCommit(sqlite3* db, int wal_frames) override;
  bool MayCheckpoint() override { return true; }

  // The first error met reading the WAL (OK if none); after one, capture stops and sinks get nothing.
  Status status() const;

 private:
  Status Capture(int wal_frames);
  // (Re)opens the WAL and reads its header into header_; sets page_size_ and the salts.
  Status ReadHeader();

  std::string wal_path_;
  int fd_ = -1;
  uint32_t page_size_ = 0;
  std::vector<TransactionSink*> sinks_;
  bool started_ = false;
  uint32_t salt1_ = 0, salt2_ = 0;
  bool have_salts_ = false;
  uint32_t next_frame_ = 1;  // the first frame not yet read
  std::string header_, buf_;
  mutable Mutex mu_;
  Status status_ GUARDED_BY(mu_);
};

}  // namespace litehouse::replication
