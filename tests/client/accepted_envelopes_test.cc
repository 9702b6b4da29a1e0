#include "client/accepted_envelopes.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace shido::client {
namespace {

using Verdict = AcceptedEnvelopes::Verdict;

const std::string kAlice = "+15550000001";
const std::string kBob = "+15550000002";

// A distinct 32-byte MAC for each n.
Bytes mac(std::uint32_t n) {
  Bytes bytes(32, 0xAB);
  for (int i = 0; i < 4; ++i)
    bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  return bytes;
}

TEST(AcceptedEnvelopesTest, AnEnvelopeAcceptedOnceIsAReplayAfterwards) {
  AcceptedEnvelopes record;
  EXPECT_EQ(record.check(kAlice, mac(1), 1000), Verdict::kNew);
  const Json line = record.add(kAlice, mac(1), 1000);
  EXPECT_EQ(record.check(kAlice, mac(1), 1000), Verdict::kReplay);
  EXPECT_EQ(record.check(kAlice, mac(2), 1000), Verdict::kNew);  // another envelope
  EXPECT_EQ(record.check(kBob, mac(1), 1000), Verdict::kNew);    // kept per sender
  EXPECT_EQ(line["from"], kAlice);
  EXPECT_EQ(line["mac"], to_hex(mac(1)));
  EXPECT_EQ(line["sent_at"], 1000);
}

TEST(AcceptedEnvelopesTest, TheRecordReadBackFromItsLinesKnowsTheSameEnvelopes) {
  AcceptedEnvelopes record;
  std::vector<Json> lines = {record.add(kAlice, mac(1), 1000), record.add(kBob, mac(2), 2000)};
  lines.push_back(Json::parse(R"({"from":"+15550000001","mac":)", nullptr, false));  // cut short
  lines.push_back(Json{{"from", kAlice}, {"mac", 7}});                               // damaged
  const AcceptedEnvelopes read = AcceptedEnvelopes::from_lines(lines);
  EXPECT_EQ(read.check(kAlice, mac(1), 1000), Verdict::kReplay);
  EXPECT_EQ(read.check(kBob, mac(2), 2000), Verdict::kReplay);
  EXPECT_EQ(read.check(kAlice, mac(3), 3000), Verdict::kNew);
}

TEST(AcceptedEnvelopesTest, CompactionKeepsTheNewestAndRefusesWhatIsOlderThanThem) {
  constexpr auto kKeep = static_cast<std::uint32_t>(AcceptedEnvelopes::kKeepPerSender);
  AcceptedEnvelopes record;
  record.add(kBob, mac(0), 5);  // another sender, below the floor Alice will get
  for (std::uint32_t n = 1; n <= 2 * kKeep; ++n) record.add(kAlice, mac(n), 1000 + n);
  EXPECT_FALSE(record.needs_compaction());
  record.add(kAlice, mac(2 * kKeep + 1), 1000 + 2 * kKeep + 1);
  ASSERT_TRUE(record.needs_compaction());

  const std::vector<Json> lines = record.compact();
  EXPECT_FALSE(record.needs_compaction());
  EXPECT_EQ(lines.size(), 1 + 1 + kKeep);  // Alice's floor, her newest kKeep, Bob's one
  for (const AcceptedEnvelopes& view : {record, AcceptedEnvelopes::from_lines(lines)}) {
    // The newest kept are still replays; the oldest let go can no longer pass as new.
    EXPECT_EQ(view.check(kAlice, mac(2 * kKeep + 1), 1000 + 2 * kKeep + 1), Verdict::kReplay);
    EXPECT_EQ(view.check(kAlice, mac(kKeep + 2), 1000 + kKeep + 2), Verdict::kReplay);
    EXPECT_EQ(view.check(kAlice, mac(1), 1001), Verdict::kTooOld);
    EXPECT_EQ(view.check(kAlice, mac(kKeep + 1), 1000 + kKeep + 1), Verdict::kTooOld);
    EXPECT_EQ(view.check(kAlice, mac(99'999), 1000 + kKeep + 1), Verdict::kTooOld);
    EXPECT_EQ(view.check(kAlice, mac(99'999), 1000 + kKeep + 2), Verdict::kNew);
    // Bob's floor is his own: Alice's many messages do not push him out.
    EXPECT_EQ(view.check(kBob, mac(0), 5), Verdict::kReplay);
    EXPECT_EQ(view.check(kBob, mac(99'999), 6), Verdict::kNew);
  }
}

}  // namespace
}  // namespace shido::client
