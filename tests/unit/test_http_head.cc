// The HTTP/1.1 heads the relay reads: the Upgrade request and its 101, a table of malformed
// heads, case-insensitive names and tokens, and the size and header-count bounds.
#include <doctest/doctest.h>

#include <string>

#include "nat/http_head.h"

using namespace qvpn::nat;

TEST_CASE("http head: the relay's Upgrade request, split from what follows it") {
  const std::string req =
      "GET /relay HTTP/1.1\r\nHost: relay:8443\r\nupgrade: QVPN-Relay\r\n"
      "Connection: keep-alive, Upgrade\r\nQvpn-Relay-Version:1\r\nX-Empty:\r\n\r\nframes follow";
  const auto len = http_head_length(req);
  REQUIRE(len);
  CHECK(req.substr(*len) == "frames follow");
  const auto head = parse_http_head(std::string_view(req).substr(0, *len), true);
  REQUIRE(head);
  CHECK(head->first == "GET");
  CHECK(head->second == "/relay");
  CHECK(head->third == "HTTP/1.1");
  CHECK(head->headers.size() == 5);
  CHECK(head->header("HOST") == "relay:8443");
  CHECK(head->header("qvpn-relay-version") == "1");
  CHECK(head->header("X-Empty") == "");
  CHECK(head->header_has_token("Upgrade", "qvpn-relay"));
  CHECK(head->header_has_token("connection", "upgrade"));
  CHECK(head->header_has_token("Connection", "KEEP-ALIVE"));
  CHECK(!head->header_has_token("Connection", "close"));
  CHECK(!head->header_has_token("Connection", "upgrad"));
  CHECK(!head->header("Missing"));
  CHECK(!head->header_has_token("Missing", "x"));
}

TEST_CASE("http head: a token may be in any of several same-named headers") {
  const auto head = parse_http_head(
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: ,, Upgrade ,\r\n\r\n", true);
  REQUIRE(head);
  CHECK(head->header("connection") == "keep-alive");  // the first
  CHECK(head->header_has_token("Connection", "upgrade"));
}

TEST_CASE("http head: responses") {
  const auto resp =
      parse_http_head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: qvpn-relay\r\n\r\n", false);
  REQUIRE(resp);
  CHECK(resp->first == "HTTP/1.1");
  CHECK(resp->second == "101");
  CHECK(resp->third == "Switching Protocols");
  CHECK(resp->header_has_token("upgrade", "QVPN-relay"));
  CHECK(parse_http_head("HTTP/1.1 404 \r\n\r\n", false));
  for (const char* bad :
       {"HTTP/1.1 1010 x\r\n\r\n", "HTTP/1.1 10 x\r\n\r\n", "HTTP/1.1 1a1 x\r\n\r\n",
        "HTTP/2 101 x\r\n\r\n", "HTTP/1.1 101\r\n\r\n", "ICY 200 OK\r\n\r\n"}) {
    CAPTURE(bad);
    CHECK(!parse_http_head(bad, false));
  }
}

TEST_CASE("http head: malformed requests are refused") {
  CHECK(!http_head_length("GET / HTTP/1.1\r\nHost: x\r\n"));
  CHECK(!http_head_length("GET / HTTP/1.1\n\n"));
  CHECK(http_head_length("\r\n\r\n") == 4u);
  for (const char* bad : {
           "\r\n\r\n",                                // no request line
           "GET /\r\n\r\n",                           // no version
           "GET / HTTP/2.0\r\n\r\n",                  // a version we do not speak
           "GET / http/1.1\r\n\r\n",                  // versions are case-sensitive
           "G(T / HTTP/1.1\r\n\r\n",                  // not a token
           "GET  HTTP/1.1\r\n\r\n",                   // empty target
           "GET / HTTP/1.1 \r\n\r\n",                 // a space after the version
           "GET / HTTP/1.1\r\nno colon\r\n\r\n",      // header without a colon
           "GET / HTTP/1.1\r\n: empty\r\n\r\n",       // header without a name
           "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",   // a space in a name
           "GET / HTTP/1.1\r\nHost: x\r\n",           // no blank line
           "GET / HTTP/1.1\r\nHost: x\r\n\r\nextra",  // more than a head
       }) {
    CAPTURE(bad);
    CHECK(!parse_http_head(bad, true));
  }
}

TEST_CASE("http head: bounded in size and header count") {
  std::string many = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i < kMaxHttpHeaders; ++i) many += "X: y\r\n";
  CHECK(parse_http_head(many + "\r\n", true));
  CHECK(!parse_http_head(many + "X: y\r\n\r\n", true));

  const std::string start = "GET / HTTP/1.1\r\nX: ";
  const std::string fits = start + std::string(kMaxHttpHead - start.size() - 4, 'a') + "\r\n\r\n";
  REQUIRE(fits.size() == kMaxHttpHead);
  CHECK(parse_http_head(fits, true));
  CHECK(!parse_http_head(start + "a" + fits.substr(start.size()), true));
}
