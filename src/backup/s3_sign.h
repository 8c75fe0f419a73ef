// AWS Signature Version 4 for S3 requests
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html), as the S3 replica
// signs them: the canonical request (method, URI-encoded path, canonical query, the signed headers
// host, x-amz-content-sha256, x-amz-date and, with a session token, x-amz-security-token, and the
// payload's SHA-256), hashed into the string to sign under DATE/REGION/s3/aws4_request, signed with
// the key derived from the secret by HMAC-SHA256 down that scope.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace litehouse::backup {

struct SigV4Request {
  std::string method;        // "GET", "PUT", ...
  std::string path;          // the URI path, not yet encoded ("/bucket/key")
  std::map<std::string, std::string> query;  // decoded names and values
  std::string host;          // the Host header's value
  std::string payload_sha256;  // hex
  std::string amz_date;      // "20130524T000000Z"
  std::string region;
  std::string access_key, secret_key, session_token;
};

// RFC 3986: unreserved characters kept, the rest %XX; '/' kept when `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash);
// The canonical query string: names sorted, names and values URI-encoded.
std::string CanonicalQuery(const std::map<std::string, std::string>& query);
std::string Sha256Hex(std::string_view data);
// The Authorization header's value.
std::string SignV4(const SigV4Request& r);

}  // namespace litehouse::backup
