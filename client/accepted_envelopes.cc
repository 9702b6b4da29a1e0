#include "client/accepted_envelopes.h"

#include <algorithm>

namespace shido::client {

AcceptedEnvelopes AcceptedEnvelopes::from_lines(const std::vector<Json>& lines) {
  AcceptedEnvelopes record;
  for (const Json& line : lines) {
    if (!line.is_object() || !line.contains("from") || !line["from"].is_string()) continue;
    const std::string sender = line["from"].get<std::string>();
    if (line.contains("floor") && line["floor"].is_number_integer()) {
      record.raise_floor(sender, line["floor"].get<std::int64_t>());
    } else if (line.contains("mac") && line["mac"].is_string() && line.contains("sent_at") &&
               line["sent_at"].is_number_integer()) {
      record.insert(sender, line["mac"].get<std::string>(), line["sent_at"].get<std::int64_t>());
    }
  }
  return record;
}

AcceptedEnvelopes::Verdict AcceptedEnvelopes::check(const std::string& sender, ByteView mac,
                                                    std::int64_t sent_at) const {
  const auto found = senders_.find(sender);
  if (found == senders_.end()) return Verdict::kNew;
  const Sender& known = found->second;
  if (known.by_mac.contains(to_hex(mac))) return Verdict::kReplay;
  if (known.has_floor && sent_at <= known.floor) return Verdict::kTooOld;
  return Verdict::kNew;
}

Json AcceptedEnvelopes::add(const std::string& sender, ByteView mac, std::int64_t sent_at) {
  const std::string mac_hex = to_hex(mac);
  insert(sender, mac_hex, sent_at);
  return {{"from", sender}, {"mac", mac_hex}, {"sent_at", sent_at}};
}

bool AcceptedEnvelopes::needs_compaction() const {
  return std::any_of(senders_.begin(), senders_.end(), [](const auto& entry) {
    return entry.second.by_time.size() > 2 * kKeepPerSender;
  });
}

std::vector<Json> AcceptedEnvelopes::compact() {
  std::vector<Json> lines;
  for (auto& [sender, known] : senders_) {
    while (known.by_time.size() > kKeepPerSender) {
      const auto oldest = known.by_time.begin();
      known.has_floor = true;
      known.floor = std::max(known.floor, oldest->first);
      known.by_mac.erase(oldest->second);
      known.by_time.erase(oldest);
    }
    if (known.has_floor) lines.push_back({{"from", sender}, {"floor", known.floor}});
    for (const auto& [sent_at, mac_hex] : known.by_time)
      lines.push_back({{"from", sender}, {"mac", mac_hex}, {"sent_at", sent_at}});
  }
  return lines;
}

void AcceptedEnvelopes::insert(const std::string& sender, const std::string& mac_hex,
                               std::int64_t sent_at) {
  Sender& known = senders_[sender];
  if (!known.by_mac.emplace(mac_hex, sent_at).second) return;
  known.by_time.emplace(sent_at, mac_hex);
}

void AcceptedEnvelopes::raise_floor(const std::string& sender, std::int64_t floor) {
  Sender& known = senders_[sender];
  if (known.has_floor && known.floor >= floor) return;
  known.has_floor = true;
  known.floor = floor;
}

}  // namespace shido::client
