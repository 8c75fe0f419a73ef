// Status and Result<T>: how every fallible operation in Litehouse reports failure, inside the server
// and in the public client API (litehouse/client.h).
//
// In the shape of leveldb's Status: the OK path costs one null pointer, errors are built with named
// constructors and tested with predicates. A SQLite failure keeps its extended result code unchanged,
// because Hrana reports the code's name to clients (protocol/errors.cc does that conversion, once).
//
// Thread safety: distinct objects are independent; a const Status may be read from several threads.
#pragma once

#include <cassert>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace litehouse {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller's input is wrong (bad request, bad flag)
  kNotFound,
  kBusy,             // a resource is held by someone else; retrying later may work
  kSqlite,           // SQLite returned an error: sqlite_code() holds its extended result code
  kIoError,
  kCorruption,
  kUnavailable,
  kReadOnlyReplica,
  kCancelled,
  kInternal,
  kUnauthenticated,  // the server refused the credentials
};

class [[nodiscard]] Status {
 public:
  Status() noexcept = default;
  Status(const Status& other) : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(StatusCode::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(StatusCode::kBusy, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(StatusCode::kIoError, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(StatusCode::kCorruption, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(StatusCode::kUnavailable, std::move(msg)); }
  static Status Cancelled(std::string msg) { return Status(StatusCode::kCancelled, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }
  // A SQLite error: `extended_code` is the extended result code exactly as SQLite returned it.
  static Status Sqlite(int extended_code, std::string msg) {
    Status s(StatusCode::kSqlite, std::move(msg));
    s.rep_->sqlite_code = extended_code;
    return s;
  }
  static Status Unauthenticated(std::string msg) { return Status(StatusCode::kUnauthenticated, std::move(msg)); }

  // A failure named by a protocol error code: what a Hrana server answered ("SQLITE_CONSTRAINT",
  // "SQL_PARSE_ERROR", "STREAM_EXPIRED", ...), kept as the client reports it.
  static Status WithCodeName(StatusCode code, std::string code_name, std::string msg) {
    Status s(code, std::move(msg));
    s.rep_->code_name = std::move(code_name);
    return s;
  }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  bool IsInvalidArgument() const { return code() == StatusCode::kInvalidArgument; }
  bool IsNotFound() const { return code() == StatusCode::kNotFound; }
  bool IsBusy() const { return code() == StatusCode::kBusy; }
  bool IsCancelled() const { return code() == StatusCode::kCancelled; }
  bool IsSqlite() const { return code() == StatusCode::kSqlite; }
  // The extended SQLite result code; 0 unless IsSqlite().
  int sqlite_code() const { return rep_ ? rep_->sqlite_code : 0; }
  const std::string& message() const {
    static const std::string kEmpty;
    return rep_ ? rep_->message : kEmpty;
  }
  // The protocol error code of the failure ("SQLITE_CONSTRAINT", ...), or "" when none was given.
  const std::string& code_name() const {
    static const std::string kEmpty;
    return rep_ ? rep_->code_name : kEmpty;
  }
  // "OK", or "<code name>: <message>", for logs.
  std::string ToString() const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    int sqlite_code = 0;
    std::string code_name;
  };
  Status(StatusCode code, std::string msg) : rep_(std::make_unique<Rep>(Rep{code, std::move(msg)})) {}
  std::unique_ptr<Rep> rep_;
};

// Either a value or a non-OK Status (absl::StatusOr's shape; std::expected is C++23).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose, as StatusOr
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

const char* StatusCodeName(StatusCode code);

}  // namespace litehouse
