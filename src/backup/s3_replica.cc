// The S3 replica: keys are objects under `s3://BUCKET/PATH`, on AWS or any S3-compatible service,
// spelled as Litestream 0.5 spells them: `s3://bucket/path?endpoint=host:port&region=r&forcePathStyle=true`
// (an endpoint may say `http://` or `https://`; without a scheme it is plain HTTP, as for a local MinIO).
// Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or Litestream's
// LITESTREAM_ACCESS_KEY_ID / LITESTREAM_SECRET_ACCESS_KEY.
//
// Requests are signed with AWS Signature Version 4 (s3_sign.h). Listing is ListObjectsV2 (XML, read
// with pugixml), page by page, without a delimiter. An object larger than kPartSize (a big snapshot)
// goes up as a multipart upload: CreateMultipartUpload, its parts kPartSize each (the last smaller),
// up to kPartsAtOnce at a time, then CompleteMultipartUpload; on a failure the upload is aborted, so
// the store keeps no orphan parts. (Litestream 0.3 uploads through the AWS SDK's uploader, which
// does the same with 5 MiB parts.)
//
// Virtual-hosted URLs (`forcePathStyle=false`, AWS's default) address BUCKET.HOST. A host under
// `.localhost` resolves to the loopback address without asking DNS, as RFC 6761 §6.3 asks of name
// resolution libraries and as curl does, so a local S3 server can be reached virtual-hosted.
#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <pugixml.hpp>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "backup/catalog.h"
#include "backup/replica_client.h"
#include "backup/s3_sign.h"

namespace litehouse::backup {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string Env(const char* a, const char* b) {
  if (const char* v = std::getenv(a); v && *v) return v;
  if (const char* v = std::getenv(b); v && *v) return v;
  return "";
}

struct Response {
  unsigned status = 0;
  std::string body;
  std::string etag;  // the ETag header, which a part's upload answers with
};

// Objects larger than this are uploaded in parts of this size (S3 wants at least 5 MiB a part but
// the last, and at most 10,000 parts: up to 78 GiB here).
constexpr size_t kPartSize = 8u << 20;
constexpr size_t kPartsAtOnce = 4;

// The root element of an S3 XML answer, or of an error it returned with HTTP 200.
bool IsS3Error(const pugi::xml_document& doc) { return bool(doc.child("Error")); }

class S3ReplicaClient : public ReplicaClient {
 public:
  S3ReplicaClient(std::string url, bool tls, std::string host, std::string port, std::string bucket, std::string prefix,
                  std::string region, bool path_style, const S3Credentials& credentials)
      : url_(std::move(url)), tls_(tls), host_(std::move(host)), port_(std::move(port)), bucket_(std::move(bucket)),
        prefix_(std::move(prefix)), region_(std::move(region)), path_style_(path_style),
        access_key_(!credentials.access_key_id.empty() ? credentials.access_key_id : Env("AWS_ACCESS_KEY_ID", "LITESTREAM_ACCESS_KEY_ID")),
        secret_key_(!credentials.secret_access_key.empty() ? credentials.secret_access_key
                                                          : Env("AWS_SECRET_ACCESS_KEY", "LITESTREAM_SECRET_ACCESS_KEY")),
        session_token_(Env("AWS_SESSION_TOKEN", "AWS_SESSION_TOKEN")) {}

  Status Put(const std::string& key, std::string_view data, WallClock::time_point) override {
    // S3 keeps its own LastModified (the upload's time); the data is shipped right after its commits.
    if (data.size() > kPartSize) return PutMultipart(key, data);
    auto r = Send(http::verb::put, ObjectPath(key), {}, data);
    if (!r.ok()) return r.status();
    if (r->status != 200) return Status::IoError("PUT " + key + ": HTTP " + std::to_string(r->status) + " " + Brief(r->body));
    return Status::OK();
  }

  Result<std::string> Get(const std::string& key) override {
    auto r = Send(http::verb::get, ObjectPath(key), {}, {});
    if (!r.ok()) return r.status();
    if (r->status == 404) return Status::NotFound(key + " does not exist");
    if (r->status != 200) return Status::IoError("GET " + key + ": HTTP " + std::to_string(r->status) + " " + Brief(r->body));
    return std::move(r->body);
  }

  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    const std::string full = Full(prefix);
    std::string token;
    for (int page = 0; page < 100000; ++page) {
      std::map<std::string, std::string> query{{"list-type", "2"}, {"prefix", full}};
      if (!token.empty()) query["continuation-token"] = token;
      auto r = Send(http::verb::get, BucketPath(), query, {});
      if (!r.ok()) return r.status();
      if (r->status != 200) return Status::IoError("LIST " + full + ": HTTP " + std::to_string(r->status) + " " + Brief(r->body));
      pugi::xml_document doc;
      if (!doc.load_buffer(r->body.data(), r->body.size())) return Status::Corruption("LIST " + full + ": the answer is not XML");
      pugi::xml_node result = doc.child("ListBucketResult");
      for (pugi::xml_node c : result.children("Contents")) {
        std::string k = c.child_value("Key");
        if (!prefix_.empty()) {
          if (k.rfind(prefix_ + "/", 0) != 0) continue;
          k = k.substr(prefix_.size() + 1);
        }
        WallClock::time_point modified;  // the epoch if S3 wrote something else
        (void)ParseRfc3339(c.child_value("LastModified"), &modified);
        out.push_back(ObjectInfo{k, std::strtoull(c.child_value("Size"), nullptr, 10), modified});
      }
      if (std::string(result.child_value("IsTruncated")) != "true") return out;
      token = result.child_value("NextContinuationToken");
      if (token.empty()) return out;
    }
    return out;
  }

  Status Delete(const std::string& key) override {
    auto r = Send(http::verb::delete_, ObjectPath(key), {}, {});
    if (!r.ok()) return r.status();
    if (r->status != 204 && r->status != 200 && r->status != 404) return Status::IoError("DELETE " + key + ": HTTP " + std::to_string(r->status));
    return Status::OK();
  }

  std::string url() const override { return url_; }

 private:
  Status PutMultipart(const std::string& key, std::string_view data) {
    const std::string path = ObjectPath(key);
    auto created = Send(http::verb::post, path, {{"uploads", ""}}, {});
    if (!created.ok()) return created.status();
    pugi::xml_document doc;
    if (created->status != 200 || !doc.load_buffer(created->body.data(), created->body.size()) || IsS3Error(doc)) {
      return Status::IoError("PUT " + key + ": starting a multipart upload: HTTP " + std::to_string(created->status) + " " +
                             Brief(created->body));
    }
    const std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
    if (upload_id.empty()) return Status::IoError("PUT " + key + ": the multipart upload has no UploadId");

    const size_t parts = (data.size() + kPartSize - 1) / kPartSize;
    if (parts > 10000) return Status::InvalidArgument("PUT " + key + ": too large for a multipart upload");
    std::vector<std::string> etags(parts);
    std::atomic<size_t> next{0};
    std::mutex mu;
    Status failed = Status::OK();  // the first part that failed, guarded by mu
    auto upload_parts = [&] {
      for (size_t i; (i = next.fetch_add(1)) < parts;) {
        {
          std::lock_guard lock(mu);
          if (!failed.ok()) return;
        }
        const std::string number = std::to_string(i + 1);
        auto r = Send(http::verb::put, path, {{"partNumber", number}, {"uploadId", upload_id}},
                      data.substr(i * kPartSize, kPartSize));
        Status st = Status::OK();
        if (!r.ok()) {
          st = r.status();
        } else if (r->status != 200 || r->etag.empty()) {
          st = Status::IoError("PUT " + key + " part " + number + ": HTTP " + std::to_string(r->status) + " " + Brief(r->body));
        } else {
          etags[i] = r->etag;
        }
        if (!st.ok()) {
          std::lock_guard lock(mu);
          if (failed.ok()) failed = st;
          return;
        }
      }
    };
    std::vector<std::thread> workers;
    for (size_t w = 1; w < std::min(parts, kPartsAtOnce); ++w) workers.emplace_back(upload_parts);
    upload_parts();
    for (auto& t : workers) t.join();

    Status done = failed;
    if (done.ok()) {
      std::string body = "<CompleteMultipartUpload>";
      for (size_t i = 0; i < parts; ++i) {
        body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags[i] + "</ETag></Part>";
      }
      body += "</CompleteMultipartUpload>";
      auto r = Send(http::verb::post, path, {{"uploadId", upload_id}}, body);
      pugi::xml_document answer;
      if (!r.ok()) {
        done = r.status();
      } else if (r->status != 200 || !answer.load_buffer(r->body.data(), r->body.size()) || IsS3Error(answer)) {
        // S3 may answer 200 and put the error in the body.
        done = Status::IoError("PUT " + key + ": completing the multipart upload: HTTP " + std::to_string(r->status) + " " +
                               Brief(r->body));
      }
    }
    if (!done.ok()) (void)Send(http::verb::delete_, path, {{"uploadId", upload_id}}, {});  // abort: no orphan parts
    return done;
  }

  static std::string Brief(const std::string& body) { return body.substr(0, 300); }
  // RFC 6761 §6.3: localhost and every name under it are the loopback interface.
  static bool IsLocalhost(std::string_view name) {
    return name == "localhost" || (name.size() > 10 && name.substr(name.size() - 10) == ".localhost");
  }
  std::string Full(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "/" + key; }
  std::string BucketPath() const { return path_style_ ? "/" + bucket_ : "/"; }
  std::string ObjectPath(const std::string& key) const { return (path_style_ ? "/" + bucket_ + "/" : "/") + Full(key); }
  std::string HostHeader() const {
    std::string h = path_style_ ? host_ : bucket_ + "." + host_;
    if (port_ != (tls_ ? "443" : "80")) h += ":" + port_;
    return h;
  }

  // One request, tried again on what may pass (a refused or reset connection, HTTP 429, 500, 502,
  // 503, 504) up to kAttempts times, after 100 ms, 200 ms, 400 ms with full jitter. A timeout is
  // not tried again: 30 s of silence is a store that is down, and the next tick tries anyway.
  Result<Response> Send(http::verb method, const std::string& path, const std::map<std::string, std::string>& query,
                        std::string_view body) const {
    constexpr int kAttempts = 4;
    Result<Response> r = Status::IoError("S3: not sent");
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      if (attempt > 0) {
        static thread_local std::mt19937 rng{std::random_device{}()};
        const int cap_ms = 100 << (attempt - 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(cap_ms / 2, cap_ms)(rng)));
      }
      bool retryable = false;
      r = SendOnce(method, path, query, body, &retryable);
      if (r.ok()) {
        const unsigned st = r->status;
        retryable = st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
      }
      if (!retryable) break;
    }
    return r;
  }

  Result<Response> SendOnce(http::verb method, const std::string& path, const std::map<std::string, std::string>& query,
                            std::string_view body, bool* retryable) const {
    if (access_key_.empty() || secret_key_.empty()) {
      return Status::InvalidArgument("S3 needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    }
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char amz_date[17];
    std::strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    SigV4Request sign{std::string(http::to_string(method)), path, query, HostHeader(), Sha256Hex(body), amz_date, region_,
                      access_key_, secret_key_, session_token_};
    const std::string canonical_query = CanonicalQuery(query);
    const std::string canonical_path = UriEncode(path, true);
    const std::string& host = sign.host;
    const std::string& payload_hash = sign.payload_sha256;
    http::request<http::string_body> req{method, canonical_path + (canonical_query.empty() ? "" : "?" + canonical_query), 11};
    req.set(http::field::host, host);
    req.set("x-amz-content-sha256", payload_hash);
    req.set("x-amz-date", amz_date);
    if (!session_token_.empty()) req.set("x-amz-security-token", session_token_);
    req.set(http::field::authorization, SignV4(sign));
    req.body().assign(body);
    req.prepare_payload();
    if (tls_) return Exchange<true>(req, retryable);
    return Exchange<false>(req, retryable);
  }

  // One request on a new connection. Every step (connect, handshake, write, read) has the deadline
  // kTimeout: the operations are asynchronous on a private io_context, since a blocking socket call
  // would ignore Beast's timer and hang on a store that silently drops packets.
  template <bool kTls>
  Result<Response> Exchange(http::request<http::string_body>& req, bool* retryable) const {
    constexpr auto kTimeout = std::chrono::seconds(30);
    asio::io_context io;
    Result<Response> out = Status::IoError("S3: no answer");
    const std::string name = path_style_ ? host_ : bucket_ + "." + host_;
    asio::ssl::context tls_ctx(asio::ssl::context::tls_client);
    // A named lambda: it must outlive the coroutine it starts (its captures live in it).
    auto exchange = [&]() -> asio::awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      asio::ip::tcp::resolver resolver(ex);
      const std::string lookup = IsLocalhost(name) ? std::string("localhost") : name;
      auto endpoints = co_await resolver.async_resolve(lookup, port_, asio::use_awaitable);
      http::response_parser<http::string_body> parser;
      parser.body_limit(boost::none);
      beast::flat_buffer buffer;
      if constexpr (kTls) {
        tls_ctx.set_default_verify_paths();
        tls_ctx.set_verify_mode(asio::ssl::verify_peer);
        beast::ssl_stream<beast::tcp_stream> stream(ex, tls_ctx);
        SSL_set_tlsext_host_name(stream.native_handle(), name.c_str());
        stream.set_verify_callback(asio::ssl::host_name_verification(name));
        beast::get_lowest_layer(stream).expires_after(kTimeout);
        co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
        beast::get_lowest_layer(stream).expires_after(kTimeout);
        co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        beast::get_lowest_layer(stream).expires_after(kTimeout);
        co_await http::async_write(stream, req, asio::use_awaitable);
        beast::get_lowest_layer(stream).expires_after(kTimeout);
        co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
      } else {
        beast::tcp_stream stream(ex);
        stream.expires_after(kTimeout);
        co_await stream.async_connect(endpoints, asio::use_awaitable);
        stream.expires_after(kTimeout);
        co_await http::async_write(stream, req, asio::use_awaitable);
        stream.expires_after(kTimeout);
        co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
      }
      auto res = parser.release();
      out = Response{res.result_int(), std::move(res.body()), std::string(res[http::field::etag])};
    };
    asio::co_spawn(io, exchange(), [&](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const boost::system::system_error& err) {
        *retryable = err.code() != beast::error::timeout;
        out = Status::IoError(std::string("S3 request to ") + host_ + ":" + port_ + " failed: " + err.what());
      } catch (const std::exception& err) {
        out = Status::IoError(std::string("S3 request to ") + host_ + ":" + port_ + " failed: " + err.what());
      }
    });
    io.run();
    return out;
  }

  std::string url_;
  bool tls_;
  std::string host_, port_, bucket_, prefix_, region_;
  bool path_style_;
  std::string access_key_, secret_key_, session_token_;
};

}  // namespace

Result<std::unique_ptr<ReplicaClient>> OpenS3ReplicaClient(const std::string& url, const S3Credentials& credentials) {
  // s3://bucket/path?query
  std::string rest = url.substr(5);
  std::string query;
  if (size_t q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  size_t slash = rest.find('/');
  std::string bucket = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (bucket.empty()) return Status::InvalidArgument("an S3 URL needs a bucket: s3://BUCKET/PATH");
  std::map<std::string, std::string> params;
  for (size_t start = 0; start < query.size();) {
    size_t amp = query.find('&', start);
    std::string item = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    size_t eq = item.find('=');
    params[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  std::string region = params.count("region") ? params["region"] : Env("AWS_REGION", "LITESTREAM_REGION");
  if (region.empty()) region = "us-east-1";
  bool tls = true;
  std::string host = "s3." + region + ".amazonaws.com", port = "443";
  bool path_style = false;
  if (params.count("endpoint") && !params["endpoint"].empty()) {
    std::string e = params["endpoint"];
    tls = false;
    if (e.rfind("https://", 0) == 0) {
      tls = true;
      e = e.substr(8);
    } else if (e.rfind("http://", 0) == 0) {
      e = e.substr(7);
    }
    while (!e.empty() && e.back() == '/') e.pop_back();
    size_t colon = e.rfind(':');
    host = colon == std::string::npos ? e : e.substr(0, colon);
    port = colon == std::string::npos ? (tls ? "443" : "80") : e.substr(colon + 1);
    path_style = true;  // what S3-compatible services (MinIO, s3rver) expect
  }
  if (params.count("forcePathStyle")) path_style = params["forcePathStyle"] == "true";
  return std::unique_ptr<ReplicaClient>(new S3ReplicaClient(url, tls, host, port, bucket, prefix, region, path_style, credentials));
}

}  // namespace litehouse::backup
