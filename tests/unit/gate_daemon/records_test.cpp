// The mappings between the core's enums and their journal forms: a replay
// depends on every event surviving the trip, so each one is checked, and
// the unspecified value is refused.
#include "records.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace ta::gate::daemon {
namespace {

TEST(Records, EveryOrderEventRoundTrips) {
  std::set<int> seen;
  for (std::size_t i = 0; i < kOrderEventCount; ++i) {
    const auto event = static_cast<OrderEvent>(i);
    const ipc::OrderEventType wire = to_proto(event);
    EXPECT_NE(wire, ipc::ORDER_EVENT_TYPE_UNSPECIFIED) << to_string(event);
    EXPECT_TRUE(seen.insert(wire).second) << to_string(event) << " shares a wire value";
    auto back = from_proto(wire);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, event);
  }
  EXPECT_FALSE(from_proto(ipc::ORDER_EVENT_TYPE_UNSPECIFIED).ok());
  EXPECT_FALSE(from_proto(static_cast<ipc::OrderEventType>(99)).ok());
}

TEST(Records, EveryHaltEventRoundTrips) {
  std::set<int> seen;
  for (std::size_t i = 0; i < kHaltEventCount; ++i) {
    const auto event = static_cast<HaltEvent>(i);
    const ipc::HaltCause wire = to_proto_cause(event);
    EXPECT_NE(wire, ipc::HALT_CAUSE_UNSPECIFIED) << to_string(event);
    EXPECT_TRUE(seen.insert(wire).second) << to_string(event) << " shares a wire value";
    auto back = from_proto(wire);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, event);
  }
  EXPECT_FALSE(from_proto(ipc::HALT_CAUSE_UNSPECIFIED).ok());
  EXPECT_FALSE(from_proto(static_cast<ipc::HaltCause>(99)).ok());
}

TEST(Records, VenueEventsMapToOrderEvents) {
  EXPECT_EQ(order_event_of(VenueEventKind::kAck), OrderEvent::kAck);
  EXPECT_EQ(order_event_of(VenueEventKind::kReject), OrderEvent::kReject);
  EXPECT_EQ(order_event_of(VenueEventKind::kCancelled), OrderEvent::kCancelAck);
  EXPECT_EQ(order_event_of(VenueEventKind::kExpired), OrderEvent::kExpire);
  EXPECT_EQ(order_event_of(VenueEventKind::kFill), OrderEvent::kFill);
  EXPECT_EQ(order_event_of(VenueEventKind::kTriggered), std::nullopt);
}

TEST(Records, LogTextIsQuotedEscapedAndBounded) {
  EXPECT_EQ(log_text("plain"), "\"plain\"");
  EXPECT_EQ(log_text("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(log_text(std::string("x\ny\x01", 4)), "\"x?y?\"");
  const std::string at(kLogQuoteLengthMax, 'a');
  EXPECT_EQ(log_text(at), "\"" + at + "\"");
  EXPECT_EQ(log_text(at.substr(1)), "\"" + at.substr(1) + "\"");
  EXPECT_EQ(log_text(at + "b"), "\"" + at + "...\"");
}

TEST(Records, Sha256OfAFile) {
  const auto path = std::filesystem::temp_directory_path() / "ta-gate-daemon-sha256.txt";
  std::ofstream(path, std::ios::binary) << "abc";
  auto hash = sha256_file(path);
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(*hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::filesystem::remove(path);
  EXPECT_FALSE(sha256_file(path).ok());
}

TEST(Records, Utf8CleanKeepsValidTextAndReplacesEveryBadByte) {
  EXPECT_EQ(utf8_clean("rules/active/x.rule"), "rules/active/x.rule");
  EXPECT_EQ(utf8_clean("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(utf8_clean("a\xff" "b"), "a?b");
  EXPECT_EQ(utf8_clean("\xc3"), "?");                  // cut short
  EXPECT_EQ(utf8_clean("\xc0\xaf"), "??");            // overlong
  EXPECT_EQ(utf8_clean("\xed\xa0\x80"), "???");      // a surrogate
  EXPECT_EQ(utf8_clean("\xf4\x90\x80\x80"), "????");  // above U+10FFFF
  EXPECT_EQ(utf8_clean("\xe2\x82x"), "??x");
  EXPECT_EQ(utf8_clean(""), "");
  // What comes out always parses back as a protobuf string field.
  ipc::CompileError e;
  e.set_file(utf8_clean("rules/active/\xff\xfe.rule"));
  ipc::CompileError back;
  ASSERT_TRUE(back.ParseFromString(e.SerializeAsString()));
  EXPECT_EQ(back.file(), "rules/active/??.rule");
}

TEST(Records, Utf8PrefixNeverCutsASequence) {
  const std::string text = "ab\xc3\xa9\xe2\x82\xac";  // a b é €: 2 + 2 + 3 bytes
  EXPECT_EQ(utf8_prefix(text, 100), text);
  EXPECT_EQ(utf8_prefix(text, 7), text);
  EXPECT_EQ(utf8_prefix(text, 6), "ab\xc3\xa9");
  EXPECT_EQ(utf8_prefix(text, 5), "ab\xc3\xa9");
  EXPECT_EQ(utf8_prefix(text, 4), "ab\xc3\xa9");
  EXPECT_EQ(utf8_prefix(text, 3), "ab");
  EXPECT_EQ(utf8_prefix(text, 0), "");
}

TEST(Records, RulesLoadedListsEveryFileAndRuleAndTheCause) {
  const auto dir = std::filesystem::temp_directory_path() / "ta-gate-daemon-rules";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "core");
  std::ofstream(dir / "core" / "a.rule") << "rule a_one v2 \"A\" {\n  from core\n  when true\n  then warn \"a\"\n}\n"
                                          << "rule a_two v1 \"B\" {\n  from core\n  when false\n  then deny \"b\"\n}\n";
  auto loaded = rules::load_rules((dir / "core").string(), (dir / "active").string());
  ASSERT_TRUE(loaded.ok()) << loaded.render_errors();
  const ipc::RulesLoaded r = rules_loaded_record(loaded.value(), "SIGHUP");
  EXPECT_FALSE(r.failed());
  EXPECT_EQ(r.cause(), "SIGHUP");
  EXPECT_EQ(r.rule_count(), 2u);
  ASSERT_EQ(r.files_size(), 1);
  EXPECT_EQ(r.files(0).path(), (dir / "core" / "a.rule").string());
  EXPECT_EQ(r.files(0).sha256(), *sha256_file(dir / "core" / "a.rule"));
  ASSERT_EQ(r.rules_size(), 2);
  EXPECT_EQ(r.rules(0).id(), "a_one");
  EXPECT_EQ(r.rules(0).version(), 2u);
  EXPECT_EQ(r.rules(1).id(), "a_two");
  EXPECT_EQ(r.rules(1).version(), 1u);

  // A failure: the errors with their positions and source lines, nothing else.
  std::ofstream(dir / "core" / "b.rule") << "rule b v1 \"B\" {\n  from core\n  when market.sprad > 1bps\n  then deny \"b\"\n}\n";
  auto failed = rules::load_rules((dir / "core").string(), (dir / "active").string());
  ASSERT_FALSE(failed.ok());
  const ipc::RulesLoaded f = rules_failed_record(failed.errors(), "admin uid=1 pid=2");
  EXPECT_TRUE(f.failed());
  EXPECT_EQ(f.cause(), "admin uid=1 pid=2");
  EXPECT_EQ(f.rule_count(), 0u);
  EXPECT_EQ(f.files_size(), 0);
  ASSERT_EQ(f.errors_size(), 1);
  EXPECT_EQ(f.errors(0).file(), (dir / "core" / "b.rule").string());
  EXPECT_EQ(f.errors(0).line(), 3u);
  EXPECT_EQ(f.errors(0).column(), 8u);
  EXPECT_EQ(f.errors(0).source_line(), "  when market.sprad > 1bps");
  std::filesystem::remove_all(dir);
}

TEST(Records, CompileErrorKeepsAtMostTheLimitOfTheSourceLine) {
  rules::Diagnostic d;
  d.file = "x.rule";
  d.line = 1;
  d.column = 3;
  d.message = "m";
  for (const std::size_t n : {kSourceLineKeptMax - 1, kSourceLineKeptMax, kSourceLineKeptMax + 1}) {
    d.source_line = std::string(n, 'a');
    EXPECT_EQ(to_proto(d).source_line().size(), std::min(n, kSourceLineKeptMax)) << n;
  }
}

}  // namespace
}  // namespace ta::gate::daemon
