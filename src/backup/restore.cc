#include "backup/restore.h"

#include <sqlite3.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>

#include "backup/catalog.h"
#include "backup/ltx_restore.h"
#include "backup/lz4.h"
#include "common/file_io.h"
#include "engine/libsql_schema.h"

namespace litehouse::backup {
namespace {

Status WriteFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.flush();
  if (!out) return Status::IoError("write " + path);
  return Status::OK();
}

// Checkpoints the WAL already written beside `db` (`wal_bytes` long) into `db` with SQLite itself:
// only committed transactions whose frames check out are applied.
Status ApplyWal(const std::string& db, uint64_t wal_bytes, uint32_t page_size, const std::string& what) {
  sqlite3* conn = nullptr;
  int rc = sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr);
  Status result;
  if (rc == SQLITE_OK) {
    // No sync per index: the whole file is synced once, before it is renamed into place. A first
    // read makes the connection see the WAL (and recover its index from it); a checkpoint before
    // that would find nothing to copy.
    rc = sqlite3_exec(conn, "PRAGMA synchronous=OFF; PRAGMA schema_version", nullptr, nullptr, nullptr);
    // SQLite keeps, of a WAL, only the frames up to the last commit whose checksums chain: a PASSIVE
    // checkpoint says how many that is. Every frame of a backup's WAL must count, or part of it
    // would be dropped without a word (a corrupt segment).
    int log = -1, done = -1;
    if (rc == SQLITE_OK) rc = sqlite3_wal_checkpoint_v2(conn, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    const uint64_t frames = page_size > 0 && wal_bytes >= 32 ? (wal_bytes - 32) / (24 + uint64_t{page_size}) : 0;
    if (rc != SQLITE_OK) {
      result = Status::Corruption(std::string("applying ") + what + " failed: " + sqlite3_errmsg(conn));
    } else if (static_cast<uint64_t>(log) != frames || done != log) {
      result = Status::Corruption(std::string(what) + " holds " + std::to_string(frames) + " frames, but only " + std::to_string(log) +
                                  " of them are valid (a segment is corrupt)");
    } else if (sqlite3_wal_checkpoint_v2(conn, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done) != SQLITE_OK) {
      result = Status::Corruption(std::string("applying ") + what + " failed: " + sqlite3_errmsg(conn));
    }
  } else {
    result = Status::IoError(std::string("open ") + db + ": " + sqlite3_errstr(rc));
  }
  sqlite3_close(conn);
  std::error_code ec;
  std::filesystem::remove(db + "-wal", ec);
  std::filesystem::remove(db + "-shm", ec);
  return result;
}

// A restored file whose schema SQLite cannot read (a table libSQL wrote with RANDOM ROWID) is no
// database to hand over: the error names the table (engine/libsql_schema.h).
Status CheckSchemaLoads(const std::string& path) {
  sqlite3* conn = nullptr;
  Status result;
  if (sqlite3_open_v2(path.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK ||
      sqlite3_exec(conn, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr) != SQLITE_OK) {
    result = engine::ExplainSchemaError(path, Status::Corruption(std::string("the restored database cannot be read: ") + sqlite3_errmsg(conn)));
  }
  sqlite3_close(conn);
  // A database in WAL mode (page 1 says so) leaves an empty -wal and a -shm beside the file, even
  // read-only: nothing may be left beside the restored database.
  std::error_code ec;
  std::filesystem::remove(path + "-wal", ec);
  std::filesystem::remove(path + "-shm", ec);
  return result;
}

// Step 1: the generation updated last among those with a snapshot (begun before the timestamp).
const GenerationInfo* ChooseGeneration(const std::vector<GenerationInfo>& catalog, const RestoreOptions& options) {
  const GenerationInfo* chosen = nullptr;
  for (const GenerationInfo& g : catalog) {
    if (!options.generation.empty() && g.id != options.generation) continue;
    if (g.snapshots.empty()) continue;
    if (options.timestamp && *options.timestamp < g.created) continue;
    if (!chosen || g.updated > chosen->updated) chosen = &g;
  }
  return chosen;
}

// The time of a replica's newest LTX file, if it holds any (and LTX may be read for `options`).
std::optional<WallClock::time_point> LtxUpdated(const std::vector<LtxFileInfo>& files, const RestoreOptions& options) {
  if (!options.generation.empty() || options.index) return std::nullopt;
  std::optional<WallClock::time_point> updated;
  for (const LtxFileInfo& f : files)
    if (!updated || f.listed > *updated) updated = f.listed;
  return updated;
}

// Which layout to read when a replica holds both (Litestream 0.5's shouldUseV3Restore): without a
// timestamp, the one written last; with one, the one whose latest snapshot at or before it is
// newer (an LTX file beginning at TXID 1, at any level, is a snapshot).
bool PreferV3(const std::vector<GenerationInfo>& catalog, const std::vector<LtxFileInfo>& files, const RestoreOptions& options) {
  if (!options.timestamp) {
    std::optional<WallClock::time_point> v3;
    for (const GenerationInfo& g : catalog)
      if (!v3 || g.updated > *v3) v3 = g.updated;
    return v3 && *v3 > *LtxUpdated(files, options);
  }
  std::optional<WallClock::time_point> v3, ltx;
  for (const GenerationInfo& g : catalog)
    for (const SnapshotFile& s : g.snapshots)
      if (s.created <= *options.timestamp && (!v3 || s.created > *v3)) v3 = s.created;
  for (const LtxFileInfo& f : files)
    if (f.min_txid == 1 && f.listed <= *options.timestamp && (!ltx || f.listed > *ltx)) ltx = f.listed;
  return v3 && (!ltx || *v3 > *ltx);
}

}  // namespace

Result<size_t> ChooseReplica(const std::vector<ReplicaClient*>& replicas, const RestoreOptions& options) {
  std::optional<size_t> best;
  WallClock::time_point best_updated;
  Status first_error;
  for (size_t i = 0; i < replicas.size(); ++i) {
    auto catalog = ReadCatalog(*replicas[i]);
    auto ltx = catalog.ok() ? ListLtxFiles(*replicas[i]) : Result<std::vector<LtxFileInfo>>(catalog.status());
    if (!ltx.ok()) {
      if (first_error.ok()) first_error = ltx.status();
      continue;
    }
    std::optional<WallClock::time_point> updated;
    if (!options.txid) {  // -txid reads LTX only
      if (const GenerationInfo* g = ChooseGeneration(*catalog, options)) updated = g->updated;
    }
    if (auto t = LtxUpdated(*ltx, options); t && (!updated || *t > *updated)) updated = t;
    if (updated && (!best || *updated > best_updated)) {
      best = i;
      best_updated = *updated;
    }
  }
  if (best) return *best;
  if (!first_error.ok()) return first_error;
  return Status::NotFound("no matching backups found");
}

static Result<RestoreResult> RestoreOnce(ReplicaClient& client, const RestoreOptions& options);

Result<RestoreResult> Restore(ReplicaClient& client, const RestoreOptions& options) {
  if (options.txid && (!options.generation.empty() || options.index || options.timestamp)) {
    return Status::InvalidArgument("-txid restores from LTX files: it goes with neither -generation, -index nor -timestamp");
  }
  // LTX, or 0.3's layout (see restore.h). Litestream compacts and deletes LTX files as it goes: a
  // file listed may be gone when fetched (NotFound, "vanished"), and the files that replaced it are
  // found by listing again, once.
  for (int attempt = 0; options.generation.empty() && !options.index; ++attempt) {
    auto files = ListLtxFiles(client);
    if (!files.ok()) return files.status();
    bool ltx = options.txid.has_value() || !files->empty();
    if (ltx && !options.txid) {
      auto catalog = ReadCatalog(client);
      if (!catalog.ok()) return catalog.status();
      ltx = !PreferV3(*catalog, *files, options);
    }
    if (!ltx) break;
    LtxRestoreOptions o;
    o.output = options.output;
    o.target = LtxTarget{options.txid, options.timestamp};
    o.parallelism = options.parallelism;
    o.verify = CheckSchemaLoads;  // as for 0.3's layout: a schema SQLite cannot read is refused
    if (options.progress) {
      o.progress = [&options](size_t done, size_t total, uint64_t bytes) { options.progress("LTX files", done, total, bytes); };
    }
    auto restored = RestoreLtx(client, *files, o);
    if (!restored.ok() && attempt == 0 && restored.status().IsNotFound() &&
        restored.status().message().find("vanished during the restore") != std::string::npos) {
      continue;
    }
    if (!restored.ok()) return restored.status();
    RestoreResult result;
    result.ltx = true;
    result.txid = restored->txid;
    result.ltx_files = restored->files;
    return result;
  }
  auto r = RestoreOnce(client, options);
  // A backup coalescing its segments (backup.h) deletes the parts of a run it has just merged: a
  // restore that listed them before may find one gone. Listed again, the merged object stands in.
  if (!r.ok() && r.status().IsNotFound() && r.status().message().find("vanished during the restore") != std::string::npos) {
    r = RestoreOnce(client, options);
  }
  return r;
}

static Result<RestoreResult> RestoreOnce(ReplicaClient& client, const RestoreOptions& options) {
  std::error_code ec;
  if (std::filesystem::exists(options.output, ec)) return Status::InvalidArgument(options.output + " already exists");
  auto catalog = ReadCatalog(client);
  if (!catalog.ok()) return catalog.status();

  // 1. The generation.
  const GenerationInfo* chosen = ChooseGeneration(*catalog, options);
  if (!chosen) return Status::NotFound("no matching backups found in " + client.url());
  const std::string& chosen_id = chosen->id;

  // 2. The snapshot.
  const SnapshotFile* snapshot = nullptr;
  for (const SnapshotFile& s : chosen->snapshots) {
    if (options.timestamp && s.created > *options.timestamp) continue;
    if (options.index && s.index > *options.index) continue;
    if (!snapshot || s.created > snapshot->created || (s.created == snapshot->created && s.index > snapshot->index)) snapshot = &s;
  }
  if (!snapshot) return Status::NotFound("no snapshot of generation " + chosen_id + " before the time asked for");

  // 3. The segments to apply.
  std::vector<const SegmentFile*> apply;
  for (const SegmentFile& s : chosen->segments) {  // in (index, offset) order
    if (s.index < snapshot->index) continue;
    if (options.timestamp && s.created > *options.timestamp) break;
    if (options.index && s.index > *options.index) break;
    if (options.index && options.offset && s.index == *options.index && s.offset >= *options.offset) break;
    apply.push_back(&s);
  }
  if (options.offset && options.index && *options.offset == 0 && snapshot->index != *options.index) {
    return Status::NotFound("generation " + chosen_id + " holds no snapshot of WAL index " + std::to_string(*options.index));
  }
  if (options.offset && options.index && *options.offset > 0 && (apply.empty() || apply.back()->index != *options.index)) {
    return Status::NotFound("generation " + chosen_id + " holds no WAL of index " + std::to_string(*options.index));
  }
  if (options.index && (apply.empty() || apply.back()->index != *options.index) && snapshot->index != *options.index) {
    return Status::NotFound("generation " + chosen_id + " holds no WAL index " + std::to_string(*options.index));
  }

  // Segments are fetched and decompressed `parallelism` at a time, ahead of the one being applied;
  // applied strictly in order.
  const size_t window = static_cast<size_t>(std::max(1, options.parallelism));
  std::vector<std::future<Result<Bytes>>> fetched(apply.size());
  auto fetch = [&client](const SegmentFile* seg) -> Result<Bytes> {
    auto bytes = client.Get(seg->key);
    if (bytes.status().IsNotFound()) return Status::NotFound(seg->key + " vanished during the restore");
    if (!bytes.ok()) return bytes.status();
    auto plain = Lz4DecompressBytes(*bytes);
    if (!plain.ok()) return Status::Corruption(seg->key + ": " + plain.status().message());
    return plain;
  };
  size_t launched = 0;
  auto launch_ahead = [&](size_t upto) {
    for (; launched < apply.size() && launched < upto; ++launched) fetched[launched] = std::async(std::launch::async, fetch, apply[launched]);
  };
  // Any fetch still running when Restore returns is waited for by its future's destructor.

  // 4. The snapshot, then each index's WAL.
  const std::string tmp = options.output + ".tmp";
  auto snap = client.Get(snapshot->key);
  if (!snap.ok()) return snap.status();
  auto db = Lz4DecompressBytes(*snap);
  if (!db.ok()) return Status::Corruption(snapshot->key + ": " + db.status().message());
  if (Status s = WriteFile(tmp, db->view()); !s.ok()) return s;
  uint64_t bytes_written = db->size;
  if (options.progress) options.progress("WAL segments", 0, apply.size(), bytes_written);
  auto fail = [&](Status s) -> Result<RestoreResult> {
    std::filesystem::remove(tmp, ec);
    return s;
  };
  RestoreResult result;
  result.generation = chosen_id;
  result.snapshot_index = snapshot->index;
  uint32_t expected_index = snapshot->index;
  for (size_t i = 0; i < apply.size();) {
    const uint32_t index = apply[i]->index;
    if (index != expected_index) {
      return fail(Status::Corruption("WAL index " + std::to_string(expected_index) + " of generation " + chosen_id + " is missing"));
    }
    // The index's segments, one after the other, straight into the WAL file: one segment in memory
    // at a time.
    const std::string wal_path = tmp + "-wal";
    int fd = ::open(wal_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(ErrnoStatus("open " + wal_path));
    uint64_t wal_size = 0;
    uint32_t page_size = 0;
    Status written;
    for (; i < apply.size() && apply[i]->index == index; ++i) {
      if (apply[i]->offset < wal_size) {
        // A part of a run that a backup has just merged into the segment before it (backup.h,
        // coalescing), listed before its delete: covered by what was applied, if it ends there.
        launch_ahead(i + window);
        auto part = fetched[i].get();
        if (!part.ok()) {
          written = part.status();
          break;
        }
        if (apply[i]->offset + part->size > wal_size) {
          written = Status::Corruption(apply[i]->key + " overlaps the segment before it");
          break;
        }
        continue;
      }
      if (apply[i]->offset != wal_size) {
        written = Status::Corruption(apply[i]->key + " begins at byte " + std::to_string(apply[i]->offset) +
                                     " of its WAL, but the segments before it end at " + std::to_string(wal_size) + ": a segment is missing");
        break;
      }
      launch_ahead(i + window);
      auto plain = fetched[i].get();
      if (!plain.ok()) {
        written = plain.status();
        break;
      }
      if (options.offset && index == *options.index && wal_size + plain->size > *options.offset) {
        plain->size = *options.offset - wal_size;  // the rest was committed after the state asked for
      }
      if (wal_size == 0 && plain->size >= 12) {
        const auto* h = reinterpret_cast<const unsigned char*>(plain->data.get());
        page_size = (uint32_t{h[8]} << 24) | (uint32_t{h[9]} << 16) | (uint32_t{h[10]} << 8) | uint32_t{h[11]};
      }
      if (!PwriteFull(fd, plain->data.get(), plain->size, static_cast<off_t>(wal_size))) {
        written = ErrnoStatus("write " + wal_path);
        break;
      }
      wal_size += plain->size;
      ++result.segments;
      bytes_written += plain->size;
      if (options.progress) options.progress("WAL segments", i + 1, apply.size(), bytes_written);
    }
    ::close(fd);
    if (written.ok() && options.offset && index == *options.index && wal_size != *options.offset) {
      written = Status::NotFound("WAL index " + std::to_string(index) + " of generation " + chosen_id + " ends at byte " +
                                 std::to_string(wal_size) + ", before " + std::to_string(*options.offset));
    }
    if (!written.ok()) {
      std::filesystem::remove(wal_path, ec);
      return fail(written);
    }
    char index_name[16];
    std::snprintf(index_name, sizeof index_name, "%08x", index);
    if (Status s = ApplyWal(tmp, wal_size, page_size, "WAL index " + std::string(index_name) + " of generation " + chosen_id); !s.ok()) return fail(s);
    ++expected_index;
  }
  if (Status s = CheckSchemaLoads(tmp); !s.ok()) return fail(s);
  if (Status s = SyncFile(tmp); !s.ok()) return fail(s);
  if (std::rename(tmp.c_str(), options.output.c_str()) != 0) return fail(Status::IoError("rename " + tmp));
  SyncDirectory(std::filesystem::absolute(options.output, ec).parent_path().string());
  return result;
}

}  // namespace litehouse::backup
