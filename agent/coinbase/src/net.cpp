#include "net.h"

#include <boost/url/parse.hpp>

namespace ta::agent::coinbase::detail {
namespace {

template <class View>
std::string to_string(const View& v) {
  return std::string(v.data(), v.size());
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view url, UrlKind kind) {
  const std::string quoted = "\"" + std::string(url) + "\"";
  // A NUL-terminated copy: Boost.URL 1.81 reads past the end of views
  // that are not terminated.
  const std::string text(url);
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return make_error("URL " + quoted + ": " + parsed.error().message());
  const boost::urls::url_view u = *parsed;
  Endpoint ep;
  const std::string scheme = to_string(u.scheme());
  const char* plain = kind == UrlKind::kWebSocket ? "ws" : "http";
  const char* secure = kind == UrlKind::kWebSocket ? "wss" : "https";
  if (scheme == secure) {
    ep.tls = true;
  } else if (scheme != plain) {
    return make_error("URL " + quoted + ": scheme must be " + plain + " or " + secure);
  }
  if (u.has_userinfo() || u.has_query() || u.has_fragment()) {
    return make_error("URL " + quoted + ": user info, query and fragment are not allowed");
  }
  ep.host = u.host_address();
  if (ep.host.empty()) return make_error("URL " + quoted + ": no host");
  ep.port = u.has_port() ? to_string(u.port()) : std::string(ep.tls ? "443" : "80");
  if (u.has_port() && (u.port().empty() || u.port_number() == 0)) return make_error("URL " + quoted + ": bad port");
  ep.host_header = to_string(u.encoded_host());
  if (u.has_port()) ep.host_header += ":" + ep.port;
  ep.path = u.encoded_path().empty() ? std::string("/") : to_string(u.encoded_path());
  return ep;
}

std::unique_ptr<boost::asio::ssl::context> make_tls_context() {
  auto ctx = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  ctx->set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
                   boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 |
                   boost::asio::ssl::context::no_tlsv1_1);
  ctx->set_default_verify_paths();
  ctx->set_verify_mode(boost::asio::ssl::verify_peer);
  return ctx;
}

std::string describe_error(const boost::system::error_code& ec) {
  return ec.message() + " (" + ec.category().name() + ":" + std::to_string(ec.value()) + ")";
}

}  // namespace ta::agent::coinbase::detail
