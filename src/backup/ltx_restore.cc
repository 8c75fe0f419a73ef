#include "backup/ltx_restore.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>

#include "backup/ltx.h"
#include "common/file_io.h"

namespace litehouse::backup {
namespace {

constexpr int kSnapshotLevel = 9;

std::string Hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// "ltx/<decimal level>/<name>" (file layout) or "<%04x level>/<name>" (S3 layout): the level, and
// which layout; false for any other key.
bool ParseLtxKey(const std::string& key, int* level, bool* s3_layout, uint64_t* min_txid, uint64_t* max_txid) {
  const size_t slash = key.rfind('/');
  if (slash == std::string::npos || !ParseLtxFileName(std::string_view(key).substr(slash + 1), min_txid, max_txid))
    return false;
  std::string_view dir = std::string_view(key).substr(0, slash);
  if (dir.substr(0, 4) == "ltx/") {
    dir.remove_prefix(4);
    if (dir.empty() || dir.size() > 1 || dir[0] < '0' || dir[0] > '9') return false;  // levels 0..9
    *level = dir[0] - '0';
    *s3_layout = false;
    return true;
  }
  if (dir.size() != 4 || dir.substr(0, 3) != "000") return false;
  const char c = dir[3];
  if (c < '0' || c > '9') return false;  // 0000..0009
  *level = c - '0';
  *s3_layout = true;
  return true;
}

// True if `a` continues the chain better than `b` (Litestream's restoreCandidateBetter): it reaches
// further, else it begins earlier, else it is compacted further.
bool Better(const LtxFileInfo& a, const LtxFileInfo& b) {
  if (a.max_txid != b.max_txid) return a.max_txid > b.max_txid;
  if (a.min_txid != b.min_txid) return a.min_txid < b.min_txid;
  return a.level > b.level;
}

bool AllZero(std::string_view page) {
  static const char kZeros[65536] = {};
  return std::memcmp(page.data(), kZeros, page.size()) == 0;
}

}  // namespace

Result<std::vector<LtxFileInfo>> ListLtxFiles(ReplicaClient& client) {
  // The file layout's folder, then each of S3's level folders: never the whole replica, whose 0.3
  // generations may hold many thousands of objects.
  auto listed = client.List("ltx");
  if (!listed.ok()) return listed.status();
  for (int level = 0; level <= kSnapshotLevel; ++level) {
    char dir[8];
    std::snprintf(dir, sizeof dir, "%04x", level);
    auto more = client.List(dir);
    if (!more.ok()) return more.status();
    listed->insert(listed->end(), more->begin(), more->end());
  }
  std::vector<LtxFileInfo> files;
  bool file_layout = false, s3_layout = false;
  for (const ObjectInfo& o : *listed) {
    LtxFileInfo f;
    bool s3 = false;
    if (!ParseLtxKey(o.key, &f.level, &s3, &f.min_txid, &f.max_txid)) continue;
    (s3 ? s3_layout : file_layout) = true;
    f.size = o.size;
    f.listed = o.modified;
    f.key = o.key;
    files.push_back(std::move(f));
  }
  if (file_layout && s3_layout) {
    return Status::InvalidArgument(client.url() +
                                   " holds LTX files in both Litestream's file layout (ltx/<level>/) and its S3 layout "
                                   "(<level %04x>/): which one is this database's is not known");
  }
  std::sort(files.begin(), files.end(), [](const LtxFileInfo& a, const LtxFileInfo& b) {
    return std::tie(a.level, a.min_txid, a.max_txid) < std::tie(b.level, b.min_txid, b.max_txid);
  });
  return files;
}

Result<std::vector<LtxFileInfo>> PlanLtxRestore(const std::vector<LtxFileInfo>& files, const LtxTarget& target,
                                                const LtxTimeFn& time_of, const std::string& where) {
  auto within_txid = [&target](const LtxFileInfo& f) { return !target.txid || f.max_txid <= *target.txid; };
  auto within = [&](const LtxFileInfo& f) -> Result<bool> {
    if (!within_txid(f)) return false;
    if (!target.timestamp) return true;
    auto t = time_of(f);
    if (!t.ok()) return t.status();
    return *t <= *target.timestamp;
  };
  std::vector<const LtxFileInfo*> snapshots, others;
  for (const LtxFileInfo& f : files) (f.level == kSnapshotLevel ? snapshots : others).push_back(&f);

  // 1. The latest snapshot within the target (the newest first: a timestamp reads few headers).
  std::vector<LtxFileInfo> plan;
  uint64_t cur = 0;
  std::sort(snapshots.begin(), snapshots.end(), [](auto* a, auto* b) { return a->max_txid < b->max_txid; });
  for (auto it = snapshots.rbegin(); it != snapshots.rend(); ++it) {
    auto ok = within(**it);
    if (!ok.ok()) return ok.status();
    if (!*ok) continue;
    if ((*it)->min_txid != 1)
      return Status::Corruption(where + ": " + (*it)->key + " is at the snapshot level but does not begin at TXID 1");
    plan.push_back(**it);
    cur = (*it)->max_txid;
    break;
  }

  // 2-3. The chain across levels 0..8.
  while (!target.txid || cur < *target.txid) {
    std::vector<const LtxFileInfo*> candidates;
    for (const LtxFileInfo* f : others)
      if (f->min_txid <= cur + 1 && f->max_txid > cur && within_txid(*f)) candidates.push_back(f);
    std::sort(candidates.begin(), candidates.end(), [](auto* a, auto* b) { return Better(*a, *b); });
    const LtxFileInfo* next = nullptr;
    for (const LtxFileInfo* f : candidates) {
      auto ok = within(*f);
      if (!ok.ok()) return ok.status();
      if (*ok) {
        next = f;
        break;
      }
    }
    if (!next) break;
    plan.push_back(*next);
    cur = next->max_txid;
  }

  // A file within the target past where the chain stopped: a gap, never a silent truncation. Of the
  // files past it, the earliest of each level is asked (times grow with TXIDs).
  std::vector<const LtxFileInfo*> past;
  for (const LtxFileInfo* f : others)
    if (f->min_txid > cur + 1 && within_txid(*f)) past.push_back(f);
  std::sort(past.begin(), past.end(),
            [](auto* a, auto* b) { return std::tie(a->min_txid, a->level) < std::tie(b->min_txid, b->level); });
  std::vector<bool> level_asked(kSnapshotLevel + 1, false);
  for (const LtxFileInfo* f : past) {
    if (level_asked[f->level]) continue;
    level_asked[f->level] = true;
    auto ok = within(*f);
    if (!ok.ok()) return ok.status();
    if (!*ok) continue;
    return Status::Corruption(
        where + ": non-contiguous LTX files: " +
        (plan.empty() ? std::string("no snapshot or file begins at TXID 1") : "the chain ends at TXID " + Hex(cur)) +
        ", but the next file, " + f->key + ", begins at TXID " + Hex(f->min_txid) + " (TXIDs " + Hex(cur + 1) + " to " +
        Hex(f->min_txid - 1) + " are missing)");
  }
  if (plan.empty())
    return Status::NotFound("no matching backups found in " + where + " (no LTX file within the target)");
  if (target.txid && cur < *target.txid) {
    return Status::NotFound(where + ": TXID " + Hex(*target.txid) + " is not in the backup (its files end at TXID " +
                            Hex(cur) + ")");
  }
  return plan;
}

Result<LtxRestoreResult> RestoreLtx(ReplicaClient& client, const std::vector<LtxFileInfo>& files,
                                    const LtxRestoreOptions& options) {
  std::error_code ec;
  if (std::filesystem::exists(options.output, ec)) return Status::InvalidArgument(options.output + " already exists");

  // The plan, reading a header only where a timestamp asks for a file's time.
  std::map<std::string, WallClock::time_point> times;
  auto time_of = [&client, &times](const LtxFileInfo& f) -> Result<WallClock::time_point> {
    if (auto it = times.find(f.key); it != times.end()) return it->second;
    auto bytes = client.Get(f.key);
    if (bytes.status().IsNotFound()) return Status::NotFound(f.key + " vanished during the restore");
    if (!bytes.ok()) return bytes.status();
    auto header = ParseLtxHeader(*bytes, f.key);
    if (!header.ok()) return header.status();
    const auto t = WallClock::time_point(
        std::chrono::duration_cast<WallClock::duration>(std::chrono::milliseconds(header->timestamp_ms)));
    times.emplace(f.key, t);
    return t;
  };
  auto planned = PlanLtxRestore(files, options.target, time_of, client.url());
  if (!planned.ok()) return planned.status();
  const std::vector<LtxFileInfo>& plan = *planned;

  // Files are fetched `parallelism` at a time ahead of the one applied, applied strictly in order.
  const size_t window = static_cast<size_t>(std::max(1, options.parallelism));
  std::vector<std::future<Result<std::string>>> fetched(plan.size());
  size_t launched = 0;
  auto launch_ahead = [&](size_t upto) {
    for (; launched < plan.size() && launched < upto; ++launched) {
      fetched[launched] = std::async(std::launch::async, [&client, key = plan[launched].key]() -> Result<std::string> {
        auto bytes = client.Get(key);
        if (bytes.status().IsNotFound()) return Status::NotFound(key + " vanished during the restore");
        return bytes;
      });
    }
  };

  const std::string tmp = options.output + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("create " + tmp);
  auto fail = [&](Status s) -> Result<LtxRestoreResult> {
    if (fd >= 0) ::close(fd);
    std::filesystem::remove(tmp, ec);
    return s;
  };

  LtxRestoreResult result;
  uint32_t page_size = 0;
  uint32_t commit = 0;
  std::vector<bool> have;  // pages written (or known zero) so far
  uint64_t bytes_written = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    const LtxFileInfo& f = plan[i];
    launch_ahead(i + window);
    auto bytes = fetched[i].get();
    if (!bytes.ok()) return fail(bytes.status());
    auto header = ParseLtxHeader(*bytes, f.key);
    if (!header.ok()) return fail(header.status());
    if (header->min_txid != f.min_txid || header->max_txid != f.max_txid) {
      return fail(Status::Corruption(f.key + ": its header says TXIDs " + Hex(header->min_txid) + "-" +
                                     Hex(header->max_txid) + ", its name otherwise"));
    }
    if (i == 0 && !header->IsSnapshot())
      return fail(Status::Corruption(f.key + ": the restore's first file is not a snapshot"));
    if (page_size != 0 && header->page_size != page_size) {
      return fail(Status::Corruption(f.key + ": its page size " + std::to_string(header->page_size) +
                                     " differs from the files before it (" + std::to_string(page_size) + ")"));
    }
    page_size = header->page_size;
    // Its pages over those of the files before it: the newest image of a page wins.
    auto decoded = DecodeLtx(*bytes, f.key, [&](uint32_t pgno, std::string_view page) -> Status {
      if (have.size() < pgno) have.resize(pgno, false);
      if (!have[pgno - 1] && AllZero(page)) {  // a hole reads as zeros: nothing to write
        have[pgno - 1] = true;
        return Status::OK();
      }
      if (!PwriteFull(fd, page.data(), page.size(), static_cast<off_t>(pgno - 1) * page_size))
        return ErrnoStatus("write " + tmp);
      have[pgno - 1] = true;
      bytes_written += page.size();
      return Status::OK();
    });
    if (!decoded.ok()) return fail(decoded.status());
    commit = decoded->commit;
    result.txid = decoded->max_txid;
    ++result.files;
    if (options.progress) options.progress(i + 1, plan.size(), bytes_written);
  }

  // Cut to the last commit; every page below it must have come from some file (the lock page is a
  // hole: zeros).
  const uint32_t lock = LtxLockPage(page_size);
  for (uint32_t pgno = 1; pgno <= commit; ++pgno) {
    if (pgno != lock && (have.size() < pgno || !have[pgno - 1])) {
      return fail(Status::Corruption(client.url() + ": page " + std::to_string(pgno) + " of the database at TXID " +
                                     Hex(result.txid) + " is in none of its LTX files"));
    }
  }
  if (::ftruncate(fd, static_cast<off_t>(commit) * page_size) != 0) return fail(ErrnoStatus("truncate " + tmp));
  if (::fsync(fd) != 0) return fail(ErrnoStatus("sync " + tmp));
  ::close(fd);
  fd = -1;
  if (options.verify) {
    if (Status s = options.verify(tmp); !s.ok()) return fail(s);
  }
  if (std::rename(tmp.c_str(), options.output.c_str()) != 0) return fail(ErrnoStatus("rename " + tmp));
  SyncDirectory(std::filesystem::absolute(options.output, ec).parent_path().string());
  result.pages = commit;
  return result;
}

}  // namespace litehouse::backup
