// Transport helpers shared by the WebSocket feed and the REST client:
// URL parsing and the TLS client context. Private to ta_agent_coinbase.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "proto/result.h"

namespace ta::agent::coinbase::detail {

enum class UrlKind { kWebSocket, kHttp };

struct Endpoint {
  bool tls = false;
  std::string host;         // for DNS and SNI, without brackets
  std::string port;         // numeric, defaulted from the scheme
  std::string host_header;  // Host header value ("host" or "host:port")
  std::string path;         // "/" when the URL has none; no query
};

// ws/wss (kWebSocket) or http/https (kHttp); no user info, query or
// fragment. The error says what is wrong with which URL.
Result<Endpoint> parse_endpoint(std::string_view url, UrlKind kind);

// A TLS 1.2+ client context that verifies the peer's certificate against
// the system trust store. Host name checks are set per connection.
std::unique_ptr<boost::asio::ssl::context> make_tls_context();

// "key=value" friendly: an error_code as "message (category:value)".
std::string describe_error(const boost::system::error_code& ec);

}  // namespace ta::agent::coinbase::detail
