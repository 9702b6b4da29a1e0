// Fuzzes the PROXY v2 header parser (server/proxy_header.h): the input is what a balancer
// sends first. Besides never reading out of bounds, the verdict must not depend on how the
// bytes arrive: every prefix of the input agrees with the whole (a header is not there yet,
// or is the same header; a refusal stays a refusal), and reading no more than each "need
// more" asks for, as server/proxy_reader.cc does, reaches that verdict without reading
// past the header's end.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "fuzz_check.h"
#include "server/peer_address.h"
#include "server/proxy_header.h"

namespace {

using namespace shido::server;
using shido::ByteView;
using shido::fuzz::check;

// What a verdict on the whole input allows for a verdict on a prefix of it.
void check_prefix(const ProxyParse& whole, const ProxyParse& prefix, std::size_t prefix_size) {
  if (const auto* header = std::get_if<ProxyHeader>(&whole)) {
    if (prefix_size < header->length) {
      check(std::holds_alternative<ProxyNeedMore>(prefix), "a prefix of a header needs more");
    } else {
      const auto* same = std::get_if<ProxyHeader>(&prefix);
      check(same != nullptr && same->length == header->length && same->client == header->client,
            "bytes after a header change nothing");
    }
  } else if (const auto* more = std::get_if<ProxyNeedMore>(&whole)) {
    const auto* less = std::get_if<ProxyNeedMore>(&prefix);
    check(less != nullptr && less->total <= more->total, "a prefix needs no more than the whole");
  } else {
    check(!std::holds_alternative<ProxyHeader>(prefix), "a prefix of a refusal is no header");
  }
}

void check_verdict(const ProxyParse& parsed, std::size_t size) {
  if (const auto* header = std::get_if<ProxyHeader>(&parsed)) {
    check(header->length >= kProxyHeaderFixed && header->length <= kMaxProxyHeader &&
              header->length <= size,
          "a header's length is within the bytes and the cap");
    // The name is one peer_name() could have written, so address_key() takes it apart.
    if (header->client) {
      check(address_key(*header->client) != *header->client, "the client is an address");
    }
  } else if (const auto* more = std::get_if<ProxyNeedMore>(&parsed)) {
    check(more->total > size && more->total >= kProxyHeaderFixed && more->total <= kMaxProxyHeader,
          "more is asked only up to the cap");
  } else {
    check(!std::get<ProxyMalformed>(parsed).why.empty(), "a refusal says why");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  const ProxyParse whole = parse_proxy_header(input);
  check_verdict(whole, size);

  // Every prefix up to one past the cap (longer ones hold a whole header or a refusal).
  for (std::size_t length = 0; length < size && length <= kMaxProxyHeader; ++length) {
    const ProxyParse prefix = parse_proxy_header(input.first(length));
    check_verdict(prefix, length);
    check_prefix(whole, prefix, length);
  }

  // The reader's way: what arrives, up to what it asks for, never more.
  std::size_t have = 0;
  for (;;) {
    const ProxyParse step = parse_proxy_header(input.first(have));
    const auto* more = std::get_if<ProxyNeedMore>(&step);
    if (more == nullptr) {
      check(step.index() == whole.index(), "reading as asked reaches the same verdict");
      if (const auto* header = std::get_if<ProxyHeader>(&step)) {
        check(header->length == have, "reading as asked stops at the header's end");
      }
      break;
    }
    if (have == size) {
      check(std::holds_alternative<ProxyNeedMore>(whole), "the whole input needs more too");
      break;
    }
    have = std::min(more->total, size);  // a receive of at most the rest asked for
  }
  return 0;
}
