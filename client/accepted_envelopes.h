// The envelopes an account has accepted, so that one the server delivers again under a new
// id (a replay: "pay Bob $100" three times) is dropped instead of shown again. An envelope
// is known by its MAC, which its sender's key authenticates together with everything
// else in it: a server can copy an envelope but cannot make another one with the same MAC.
// Only envelopes that opened are recorded, so that a server cannot block a real message by
// sending a forgery with its MAC first.
//
// Growth is bounded per sender: the newest kKeepPerSender envelopes (by their
// authenticated sent_at) are kept, and the sent_at of the newest one let go becomes that
// sender's floor. An envelope at or below the floor can no longer be checked, so it is
// refused as too old: a replay never gets through, whatever its age.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "shido/bytes.h"
#include "shido/protocol/json.h"

namespace shido::client {

class AcceptedEnvelopes {
 public:
  static constexpr std::size_t kKeepPerSender = 2000;

  enum class Verdict {
    kNew,     // never accepted: show it, then add() it
    kReplay,  // accepted before
    kTooOld,  // at or below the sender's floor: cannot be checked, so refused
  };

  // From the lines of the record (a line that is not whole is skipped).
  static AcceptedEnvelopes from_lines(const std::vector<Json>& lines);

  Verdict check(const std::string& sender, ByteView mac, std::int64_t sent_at) const;

  // Records an envelope that opened; returns the line to append to the record.
  Json add(const std::string& sender, ByteView mac, std::int64_t sent_at);

  // Whether a sender holds more than twice kKeepPerSender: time to compact().
  bool needs_compaction() const;

  // Lets go of all but each sender's newest kKeepPerSender envelopes, raising their floors;
  // returns the whole record's lines, to replace the file with.
  std::vector<Json> compact();

 private:
  struct Sender {
    bool has_floor = false;
    std::int64_t floor = 0;
    std::set<std::pair<std::int64_t, std::string>> by_time;  // (sent_at, mac hex)
    std::map<std::string, std::int64_t> by_mac;              // mac hex -> sent_at
  };
  void insert(const std::string& sender, const std::string& mac_hex, std::int64_t sent_at);
  void raise_floor(const std::string& sender, std::int64_t floor);

  std::map<std::string, Sender> senders_;
};

}  // namespace shido::client
