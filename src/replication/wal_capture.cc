#include "replication/wal_capture.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/file_io.h"
#include "common/log.h"

namespace litehouse::replication {
namespace {

constexpr size_t kWalHeaderBytes = 32;
constexpr size_t kFrameHeaderBytes = 24;

uint32_t Be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

}  // namespace

WalCapture::WalCapture(std::string db_path) : wal_path_(std::move(db_path) + "-wal") {}

WalCapture::~WalCapture() {
  if (fd_ >= 0) ::close(fd_);
}

Status WalCapture::Start() {
  int fd = ::open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    off_t size = ::lseek(fd, 0, SEEK_END);
    ::close(fd);
    if (size > 0) return Status::Internal("capture needs an empty WAL, and " + wal_path_ + " holds " + std::to_string(size) + " bytes");
  }
  started_ = true;
  return Status::OK();
}

Status WalCapture::status() const {
  MutexLock lock(&mu_);
  return status_;
}

void WalCapture::OnCommit(sqlite3*, int wal_frames) {
  if (!started_) return;
  {
    MutexLock lock(&mu_);
    if (!status_.ok()) return;
  }
  Status s = Capture(wal_frames);
  if (!s.ok()) {
    LH_LOG_ERROR("capturing a commit failed, capture stops: {}", s.ToString());
    {
      MutexLock lock(&mu_);
      status_ = s;
    }
    // Never silently: the log refuses replicas and starts a new history at the next start, the
    // backup reports the failure.
    for (TransactionSink* sink : sinks_) sink->OnCaptureLost(s);
  }
}

Status WalCapture::ReadHeader() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return Status::IoError("open " + wal_path_ + ": " + std::strerror(errno));
  header_.resize(kWalHeaderBytes);
  if (!PreadFull(fd_, header_.data(), kWalHeaderBytes, 0)) return Status::IoError("read the WAL header: " + std::string(std::strerror(errno)));
  const uint32_t magic = Be32(header_.data());
  if (magic != 0x377f0682 && magic != 0x377f0683) return Status::Corruption("the WAL header has no WAL magic");
  page_size_ = Be32(header_.data() + 8);
  salt1_ = Be32(header_.data() + 16);
  salt2_ = Be32(header_.data() + 20);
  have_salts_ = true;
  return Status::OK();
}

Status WalCapture::Capture(int wal_frames) {
  const uint32_t last = static_cast<uint32_t>(wal_frames);
  bool restarted = !have_salts_ || last < next_frame_;
  // SQLite deletes the WAL when its last connection closes and creates a new one later: stale frames
  // of the old file must never be read for the new one's.
  struct stat st;
  if (!restarted && (::fstat(fd_, &st) != 0 || st.st_nlink == 0)) restarted = true;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (restarted) {
      if (Status s = ReadHeader(); !s.ok()) return s;
      next_frame_ = 1;
    }
    if (last < next_frame_) {
      return Status::Internal("a commit reported " + std::to_string(last) + " WAL frames, fewer than the " +
                              std::to_string(next_frame_ - 1) + " already read");
    }
    const size_t frame_bytes = kFrameHeaderBytes + page_size_;
    const size_t count = last - next_frame_ + 1;
    buf_.resize(count * frame_bytes);
    const bool read = PreadFull(fd_, buf_.data(), buf_.size(), static_cast<off_t>(kWalHeaderBytes + (next_frame_ - 1) * frame_bytes));
    // Frames of another WAL than the one we read last (a restart, or a new file): start over from
    // its header.
    const bool ours = read && (count == 0 || (Be32(buf_.data() + 8) == salt1_ && Be32(buf_.data() + 12) == salt2_));
    if (!ours && !restarted) {
      restarted = true;
      continue;
    }
    if (!read) {
      return Status::IoError("read WAL frames " + std::to_string(next_frame_) + ".." + std::to_string(last) + ": " + std::strerror(errno));
    }
    CommittedTransaction txn;
    txn.page_size = page_size_;
    txn.wal_header = header_;
    txn.frames = buf_;
    txn.first_frame = next_frame_;
    txn.wal_restarted = restarted;
    for (size_t i = 0; i < count; ++i) {
      const char* f = buf_.data() + i * frame_bytes;
      if (Be32(f + 8) != salt1_ || Be32(f + 12) != salt2_) {
        return Status::Corruption("WAL frame " + std::to_string(next_frame_ + i) + " does not carry the header's salts");
      }
      txn.pages[Be32(f)] = std::string_view(f + kFrameHeaderBytes, page_size_);
      if (i + 1 == count) txn.db_size_pages = Be32(f + 4);
    }
    if (count > 0 && txn.db_size_pages == 0) return Status::Corruption("the last frame of a commit is no commit frame");
    next_frame_ = last + 1;
    if (count == 0) return Status::OK();
    for (TransactionSink* sink : sinks_) sink->OnTransaction(txn);
    return Status::OK();
  }
  return Status::Internal("unreachable");
}

}  // namespace litehouse::replication
