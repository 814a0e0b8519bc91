// The idempotency memory behind decide()'s stage 4: the decisions of the
// most recent intents, by intent id, stored compactly so that the gate's
// default of 200,000 (kRememberedIntentsMax) fits its memory budget
// (docs/performance-gate-daemon.md).
//
// Layout. Each entry is a 20-byte slot (a 64-bit hash of the intent id, the
// intent's fingerprint, and where its bytes start) plus its bytes in a ring
// of bytes: the intent's created_ts_ns, then the Decision in a compact
// encoding - decimal strings as variable-length integers of their 1e-8
// units, the gate's order id "o-N" as N, times as the difference from the
// intent's creation, and repeated texts (details, field names, rule ids) as
// numbers into a bounded table of interned strings; anything that does not
// encode exactly (a decimal string that is not canonical, an unknown field)
// is kept verbatim. A Decision comes back exactly as it was remembered
// (tests compare the serialized bytes). Slots and bytes are first in,
// first out: the oldest entry leaves first. An open-addressing hash table
// (linear probing, 8-byte buckets holding a tag of the hash, at most 80%
// full) maps id hashes to slots.
//
// Keys are 64-bit hashes of the id. Two ids with the same hash share a
// slot: the second is then taken for the first, whose fingerprint (which
// covers the id) does not match, so decide() answers DUPLICATE_ID_CONFLICT
// - a denial, never a second order. Only the agent chooses ids, so only
// the agent could provoke that, against itself.
//
// Not thread-safe; owned by one GateState.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gate.pb.h"

namespace ta::gate {

// Texts interned at most: details, field names and rule ids repeat, and a
// few thousand cover every message the gate writes and every rule id of
// several rule sets. Further texts are stored inline with their entry.
inline constexpr std::size_t kInternedTextsMax = 4'096;
// Longer texts are never interned (a rule's reason can be long and unique).
inline constexpr std::size_t kInternedTextLengthMax = 256;

// A remembered decision: what idempotency compares and replays.
struct RememberedIntent {
  std::uint64_t fingerprint = 0;  // of the intent's content (intent_fingerprint())
  ipc::Decision decision;
};

class IntentMemory {
 public:
  // Remembers at most `capacity` (>= 1) intents.
  explicit IntentMemory(std::size_t capacity);

  std::size_t size() const { return live_; }
  std::size_t capacity() const { return capacity_; }
  bool contains(std::string_view intent_id) const { return find_slot(intent_id) != kNoSlot; }
  // The remembered decision, decoded (its intent_id is `intent_id`).
  std::optional<RememberedIntent> find(std::string_view intent_id) const;

  // Remembers a decision of an intent created at created_ts_ns; when full,
  // the oldest entry is forgotten first. Preconditions: the id is not
  // remembered (contains() is false) and decision.intent_id() is the id.
  void add(std::string_view intent_id, std::uint64_t fingerprint, std::int64_t created_ts_ns,
           const ipc::Decision& decision);
  // Replaces the decision of a remembered id (a settled hold) and makes it
  // the newest entry. False when the id is not remembered.
  bool replace(std::string_view intent_id, const ipc::Decision& decision);

  // The latest created_ts_ns among the intents forgotten so far; nullopt
  // while nothing has been forgotten. A retry of a forgotten intent carries
  // its original created_ts_ns, which is at most this.
  std::optional<std::int64_t> forgotten_created_max_ns() const;

  // Bytes held (slots, encoded decisions, hash table, interned texts),
  // without allocator overhead: for tests and the performance notes.
  std::size_t memory_bytes() const;

 private:
  // 20 bytes: 64-bit values as halves keep the slot 4-byte aligned.
  struct Slot {
    std::uint32_t id_hash_lo = 0;
    std::uint32_t id_hash_hi = 0;
    std::uint32_t fingerprint_lo = 0;
    std::uint32_t fingerprint_hi = 0;
    std::uint32_t begin = 0;  // position of its first byte in the ring, modulo 2^32
    std::uint64_t id_hash() const { return (std::uint64_t{id_hash_hi} << 32) | id_hash_lo; }
    std::uint64_t fingerprint() const { return (std::uint64_t{fingerprint_hi} << 32) | fingerprint_lo; }
  };
  static constexpr std::size_t kNoSlot = SIZE_MAX;

  static std::uint64_t hash_id(std::string_view intent_id);
  std::size_t find_slot(std::string_view intent_id) const;  // index into slots_, or kNoSlot
  std::size_t bucket_of(std::uint64_t id_hash) const;
  std::size_t slot_of(std::uint64_t bucket) const;
  std::uint64_t begin_of(std::size_t slot) const;
  bool indexed(std::uint64_t id_hash, std::uint64_t seq) const;
  std::int64_t created_of(std::size_t slot) const;
  void index_insert(std::uint64_t id_hash, std::uint64_t seq);
  void index_erase(std::uint64_t id_hash, std::uint64_t seq);
  void grow_index();
  void evict_oldest();
  void pop_front_slot();
  void append(std::uint64_t id_hash, std::uint64_t fingerprint, std::int64_t created_ts_ns,
              const ipc::Decision& decision);
  std::uint64_t end_of(std::size_t slot) const;

  // Encoding (intent_memory.cpp).
  void encode(std::int64_t created_ts_ns, const ipc::Decision& d, std::string& out);
  void encode_text(std::string_view text, bool intern, std::string& out);
  void encode_value(std::string_view value, std::string& out);
  std::optional<std::uint32_t> intern(std::string_view text);
  bool decode(std::string_view bytes, ipc::Decision& out) const;

  std::size_t capacity_;
  std::size_t live_ = 0;                 // remembered ids (slots_ also holds replaced ones)
  std::deque<Slot> slots_;               // oldest first
  std::uint64_t front_seq_ = 0;          // sequence number of slots_.front()
  std::deque<std::uint8_t> ring_;        // the slots' bytes, oldest first
  std::uint64_t ring_begin_ = 0;         // position of ring_.front()
  // Per bucket: a 32-bit tag of the id hash (never 0) above the low 32 bits
  // of the slot's sequence number; 0 = empty. At most 80% full.
  std::vector<std::uint64_t> index_;
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> texts_;  // interned, by number
  // Owns its keys (no views into texts_), so the memory copies safely.
  std::unordered_map<std::string, std::uint32_t, TextHash, std::equal_to<>> text_numbers_;
  std::optional<std::int64_t> forgotten_created_max_ns_;
  std::string scratch_;
};

}  // namespace ta::gate
