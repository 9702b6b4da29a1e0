#include "client/messenger.h"

#include <algorithm>
#include <chrono>

#include "client/accepted_envelopes.h"
#include "shido/protocol/validation.h"

namespace shido::client {
namespace {

ClientError local_error(const Error& error) {
  // A key file others can read is a security matter; anything else is a local problem.
  if (error.code == Errc::kInvalidKey) return client_failure(Failure::kSecurity, error.message);
  return client_failure(Failure::kLocal, error.message);
}

bool is_blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n\v\f") == std::string::npos;
}

// TLS pinned to the server key of the profile (the handshake refuses another), unless the
// person asked for plaintext.
Transport pinned_transport(const ServerPin& server) {
  return Transport{!server.plaintext, server.key};
}

Json history_entry(const WaitingMessage& wire, const TextMessage& message) {
  return {
      {"direction", "in"},      {"id", wire.message_id},      {"from", wire.senders_phone_number},
      {"body", message.body},   {"sent_at", message.sent_at}, {"stored_at", wire.stored_at},
      {"received_at", now_ms()}};
}

Json dropped_entry(const WaitingMessage& wire, const std::string& reason) {
  return {{"direction", "in"},   {"id", wire.message_id}, {"from", wire.senders_phone_number},
          {"status", "dropped"}, {"reason", reason},      {"received_at", now_ms()}};
}

// Whether an envelope that opened was accepted before (a replay, or too old to tell): if so,
// counts it, warns and records it in the history as dropped, and returns true.
bool drop_if_replayed(const AcceptedEnvelopes& accepted, const WaitingMessage& wire,
                      const Envelope& envelope, const TextMessage& message, FetchReport& report,
                      std::vector<Json>& history) {
  const auto verdict = accepted.check(wire.senders_phone_number, envelope.mac, message.sent_at);
  if (verdict == AcceptedEnvelopes::Verdict::kNew) return false;
  report.replays += 1;
  if (verdict == AcceptedEnvelopes::Verdict::kReplay) {
    report.warnings.push_back("a message from " + wire.senders_phone_number +
                              " repeats one already received (the server delivered it again "
                              "under a new id) and was dropped");
    history.push_back(dropped_entry(wire, "replay of a message already received"));
  } else {
    report.warnings.push_back(
        "a message from " + wire.senders_phone_number + " is older than the last " +
        std::to_string(AcceptedEnvelopes::kKeepPerSender) +
        " kept from them to detect replays, so it may be a replay, and was dropped");
    history.push_back(dropped_entry(wire, "too old to check for a replay"));
  }
  return true;
}

// Appends what was accepted to the record, compacting it when it has grown too long.
Status save_accepted(Profile& profile, AcceptedEnvelopes& accepted,
                     const std::vector<Json>& lines) {
  if (lines.empty()) return {};
  if (auto saved = profile.append_accepted(lines); !saved.ok()) return saved;
  if (accepted.needs_compaction()) return profile.replace_accepted(accepted.compact());
  return {};
}

std::string address_of(const ServerPin& server) {
  const bool ipv6 = server.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + server.host + "]" : server.host) + ":" + std::to_string(server.port);
}

// Reads the code the server sent (again after a wrong one, at most `tries` times) and
// proves it with `key` on the connection that asked for it; returns the accepted code.
ClientResult<SecretBytes> prove_code(ProtocolClient& connection, Greeting greeting,
                                     const KeyPair& key, const std::string& phone,
                                     const CodeReader& read_code, int tries) {
  const PublicKey server_key = greeting.server_key;
  std::string retry_reason;
  for (int attempt = 0; attempt < tries; ++attempt) {
    std::optional<std::string> typed = read_code(server_key.fingerprint(), retry_reason);
    if (!typed) return client_failure(Failure::kLocal, "registration abandoned");
    std::string& text = *typed;
    SecretBytes code(as_bytes(text));
    wipe(text.data(), text.size());
    auto registered = connection.register_key(key, greeting, phone, code.view());
    if (registered.ok()) return code;
    const ClientError& error = registered.error();
    const bool can_retry =
        error.server_code == Code::kInvalidSecretCode && error.attempts_left.value_or(0) > 0;
    if (!can_retry || attempt + 1 == tries) return error;
    retry_reason = "wrong code, " + std::to_string(*error.attempts_left) + " attempts left";
    // Each proof spends the connection's nonce: greet again for a fresh one.
    auto again = connection.hello();
    if (!again.ok()) return again.error();
    if (!(again.value().server_key == server_key))
      return server_key_changed(server_key, again.value().server_key);
    greeting = std::move(again).value();
  }
  return client_failure(Failure::kRefused, "registration failed");
}

// register_account for an account that home already holds: the same key, a new code.
ClientResult<Profile> register_again(const RegisterRequest& request, const CodeReader& read_code,
                                     int tries) {
  auto opened = Profile::open(request.home, request.phone);
  if (!opened.ok()) return local_error(opened.error());
  Profile profile = std::move(opened).value();
  profile.set_address(request.host, request.port);  // this time only; the pin stays
  profile.set_plaintext(request.plaintext);
  const std::string email = request.email.empty() ? profile.email() : request.email;
  if (!is_valid_email(email))
    return client_failure(Failure::kLocal, "'" + email + "' is not an e-mail address");
  const PublicKey& pinned = profile.server().key;
  if (request.expected_fingerprint && *request.expected_fingerprint != pinned.fingerprint()) {
    return client_failure(Failure::kSecurity, "the server key fingerprint pinned for " +
                                                  request.phone + " is " + pinned.fingerprint() +
                                                  ", not the expected " +
                                                  *request.expected_fingerprint);
  }
  const std::string server = "the server at " + address_of(profile.server());

  // Logging in first says whether the server still knows the account, and it costs none
  // of the phone's codes (the server counts every code request, even one it refuses as
  // already registered). It checks the server key against the pin, as every login does.
  auto probe = Messenger::connect(profile);
  if (probe.ok()) {
    probe.value().bye();
    return client_failure(Failure::kLocal,
                          request.phone + " is already registered, here (" + profile.directory() +
                              ") and on " + server +
                              ", which still knows it: there is nothing to register again; "
                              "fetch, send and the menu use it as before");
  }
  if (!is_unknown_account(probe.error())) {
    ClientError error = probe.error();
    if (error.kind == Failure::kRefused)
      error.message = server + " refused to log in " + request.phone + ": " + error.message;
    return error;
  }

  auto connection =
      ProtocolClient::connect(profile.server().host, profile.server().port,
                              std::chrono::seconds(30), pinned_transport(profile.server()));
  if (!connection.ok()) return connection.error();
  auto greeting = connection.value().hello();
  if (!greeting.ok()) return greeting.error();
  if (!(greeting.value().server_key == pinned))
    return server_key_changed(pinned, greeting.value().server_key);
  auto sent = connection.value().request_code(request.phone, email);
  if (!sent.ok()) {
    ClientError error = sent.error();
    if (error.server_code == Code::kAlreadyRegistered) {
      error.message = server + " says " + request.phone +
                      " is already registered, though it did not know the account a moment "
                      "ago: it may have been registered since, from somewhere else. Nothing "
                      "was changed here.";
    }
    return error;
  }
  auto code = prove_code(connection.value(), std::move(greeting).value(), profile.key(),
                         request.phone, read_code, tries);
  if (!code.ok()) return code.error();
  if (auto saved = profile.save_code(code.value().view()); !saved.ok())
    return local_error(saved.error());
  if (email != profile.email()) {
    if (auto saved = profile.save_email(email); !saved.ok()) return local_error(saved.error());
  }
  return profile;
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool has_account(const std::string& home, const std::string& phone) {
  const auto accounts = Profile::list(home);
  return std::find(accounts.begin(), accounts.end(), phone) != accounts.end();
}

bool is_unknown_account(const ClientError& error) {
  return error.kind == Failure::kRefused && error.server_code == Code::kUserNotFound;
}

ClientResult<Profile> register_account(const RegisterRequest& request, const CodeReader& read_code,
                                       int tries) {
  // Checked before the server is asked: an account here registers its own key again.
  if (has_account(request.home, request.phone)) return register_again(request, read_code, tries);
  if (!is_valid_email(request.email)) {
    return client_failure(Failure::kLocal, "a new account needs an e-mail address: '" +
                                               request.email + "' is not one");
  }
  const std::string host = request.host.value_or("127.0.0.1");
  const std::uint16_t port = request.port.value_or(5000);
  // Nothing to pin yet: the handshake takes the server's key, and the person compares its
  // fingerprint with the one that came with the code.
  auto connection = ProtocolClient::connect(host, port, std::chrono::seconds(30),
                                            Transport{!request.plaintext, std::nullopt});
  if (!connection.ok()) return connection.error();
  auto greeting = connection.value().hello();
  if (!greeting.ok()) return greeting.error();
  const PublicKey server_key = greeting.value().server_key;
  if (request.expected_fingerprint && *request.expected_fingerprint != server_key.fingerprint()) {
    return client_failure(Failure::kSecurity, "the server key fingerprint is " +
                                                  server_key.fingerprint() + ", not the expected " +
                                                  *request.expected_fingerprint);
  }
  auto sent = connection.value().request_code(request.phone, request.email);
  if (!sent.ok()) return sent.error();

  // The key and the server pin are on disk before the proof goes out, so an account the
  // server accepts is never one whose key we lost.
  const KeyPair key = KeyPair::generate();
  auto profile = Profile::create(request.home, request.phone, request.email, key,
                                 ServerPin{host, port, server_key, request.plaintext});
  if (!profile.ok()) return local_error(profile.error());

  auto code = prove_code(connection.value(), std::move(greeting).value(), key, request.phone,
                         read_code, tries);
  if (!code.ok()) return code.error();
  if (auto saved = profile.value().save_code(code.value().view()); !saved.ok())
    return local_error(saved.error());
  return std::move(profile).value();
}

ClientResult<Messenger> Messenger::connect(Profile profile, std::chrono::milliseconds timeout) {
  auto code = profile.code();
  if (!code.ok()) {
    // A code file others can read is refused like such a key file: a security failure.
    if (code.error().code == Errc::kInvalidKey) return local_error(code.error());
    return client_failure(Failure::kLocal, "the account " + profile.phone() +
                                               " has no code: " + code.error().message);
  }
  auto connection = ProtocolClient::connect(profile.server().host, profile.server().port, timeout,
                                            pinned_transport(profile.server()));
  if (!connection.ok()) return connection.error();
  auto greeting = connection.value().hello();
  if (!greeting.ok()) return greeting.error();
  if (!(greeting.value().server_key == profile.server().key)) {
    return server_key_changed(profile.server().key, greeting.value().server_key);
  }
  auto login = connection.value().login(profile.key(), greeting.value(), profile.phone(),
                                        code.value().view());
  if (!login.ok()) {
    ClientError error = login.error();
    if (is_unknown_account(error)) {
      error.message = "the server at " + address_of(profile.server()) +
                      " no longer knows the account " + profile.phone() +
                      ": it may have been restarted without its data (--store memory) or "
                      "restored from an old backup.";
    }
    return error;
  }
  return Messenger(std::move(profile), std::move(connection).value());
}

ClientResult<PublicKey> Messenger::contact_key(const std::string& phone) {
  auto key = connection_.recipient_key(phone);
  if (!key.ok()) return key.error();
  auto lock = profile_.lock();
  if (!lock.ok()) return local_error(lock.error());
  auto pinned = profile_.contact(phone);
  if (!pinned) {
    if (auto saved = profile_.pin_contact(phone, key.value(), now_ms()); !saved.ok())
      return local_error(saved.error());
  } else if (!(pinned->key == key.value())) {
    return client_failure(
        Failure::kSecurity,
        "THE KEY OF " + phone + " HAS CHANGED.\n  pinned:  " + pinned->key.fingerprint() +
            "\n  new:     " + key.value().fingerprint() + "\nNothing was sent. Check the new " +
            "fingerprint with " + phone + " before you accept it.");
  }
  return key;
}

ClientResult<Done> check_body(const std::string& body) {
  if (is_blank(body)) return client_failure(Failure::kLocal, "the message is empty");
  if (auto encoded = encode_text_message(TextMessage{body, 0}); !encoded.ok()) {
    return client_failure(Failure::kLocal, encoded.error().message);
  }
  return Done{};
}

ClientResult<std::string> Messenger::send(const std::string& to, const std::string& body) {
  if (auto checked = check_body(body); !checked.ok()) return checked.error();
  const TextMessage message{body, now_ms()};
  auto key = contact_key(to);
  if (!key.ok()) return key.error();
  auto envelope = seal_text_message(profile_.key(), profile_.phone(), key.value(), to, message);
  if (!envelope.ok()) return client_failure(Failure::kSecurity, envelope.error().message);
  auto id = connection_.send_envelope(to, envelope.value());
  if (!id.ok()) return id.error();
  const Json entry = {{"direction", "out"},
                      {"id", id.value()},
                      {"to", to},
                      {"body", body},
                      {"sent_at", message.sent_at}};
  auto lock = profile_.lock();
  if (!lock.ok()) return local_error(lock.error());
  if (auto saved = profile_.append_history({entry}); !saved.ok()) return local_error(saved.error());
  return id;
}

ClientResult<FetchReport> Messenger::fetch(int wait_seconds) {
  constexpr int kBatch = 100;
  FetchReport report;
  for (int wait = wait_seconds;; wait = 0) {
    auto batch = connection_.fetch(kBatch, wait);
    if (!batch.ok()) return batch.error();
    // Under the lock, and read again for each batch: another process on this account may
    // have fetched, written and acknowledged the same messages meanwhile.
    auto lock = profile_.lock();
    if (!lock.ok()) return local_error(lock.error());
    std::set<std::string> known = profile_.known_message_ids();
    AcceptedEnvelopes accepted = AcceptedEnvelopes::from_lines(profile_.accepted());
    std::vector<Json> accepted_lines;
    std::vector<Json> history;
    std::vector<Json> held;
    std::vector<std::string> ids;
    std::vector<ReceivedMessage> opened;
    for (const WaitingMessage& wire : batch.value()) {
      ids.push_back(wire.message_id);
      if (!known.insert(wire.message_id).second) {
        report.duplicates += 1;
        continue;
      }
      // A hostile server could name anything as the sender: text for the terminal, or a
      // look-alike of a contact. What is not a phone number is never shown nor pinned.
      if (!is_valid_phone(wire.senders_phone_number)) {
        report.failed_authentication += 1;
        report.warnings.push_back(
            "a message whose sender is not a phone number was dropped (the server sent it)");
        history.push_back(dropped_entry(wire, "sender not a phone number"));
        continue;
      }
      auto sender_key = PublicKey::from_pem(wire.senders_public_key);
      auto pinned = profile_.contact(wire.senders_phone_number);
      if (sender_key.ok() && pinned && !(pinned->key == sender_key.value())) {
        report.held += 1;
        held.push_back(wire.to_json());
        continue;
      }
      auto envelope = from_wire(wire.envelope, EnvelopeKind::kMessage);
      Result<TextMessage> message = Error{Errc::kAuthenticationFailed, "authentication failed"};
      if (sender_key.ok() && envelope.ok()) {
        message = open_text_message(profile_.key(), profile_.phone(), sender_key.value(),
                                    wire.senders_phone_number, envelope.value());
      }
      if (!message.ok()) {
        report.failed_authentication += 1;
        report.warnings.push_back("a message claiming to be from " + wire.senders_phone_number +
                                  " failed authentication and was dropped");
        history.push_back(dropped_entry(wire, "authentication failed"));
        continue;
      }
      // The same envelope under a new id: the server (or someone in its place) replays it.
      if (drop_if_replayed(accepted, wire, envelope.value(), message.value(), report, history))
        continue;
      accepted_lines.push_back(
          accepted.add(wire.senders_phone_number, envelope.value().mac, message.value().sent_at));
      if (!pinned) {
        if (auto saved =
                profile_.pin_contact(wire.senders_phone_number, sender_key.value(), now_ms());
            !saved.ok()) {
          return local_error(saved.error());
        }
      }
      history.push_back(history_entry(wire, message.value()));
      opened.push_back(
          {wire.message_id, wire.senders_phone_number, std::move(message).value(), wire.stored_at});
    }
    // On disk first, acknowledged second: a crash in between only brings duplicates.
    if (!held.empty()) {
      if (auto saved = profile_.append_held(held); !saved.ok()) return local_error(saved.error());
    }
    if (!history.empty()) {
      if (auto saved = profile_.append_history(history); !saved.ok())
        return local_error(saved.error());
    }
    // After the history (a crash in between may let a replay of these through once, never
    // drop a message), before the acknowledgement.
    if (auto saved = save_accepted(profile_, accepted, accepted_lines); !saved.ok())
      return local_error(saved.error());
    for (ReceivedMessage& message : opened) report.messages.push_back(std::move(message));
    if (!ids.empty()) {
      auto acked = connection_.ack(ids);
      if (!acked.ok()) return acked.error();
    }
    if (static_cast<int>(batch.value().size()) < kBatch) break;
  }
  report.key_changes = profile_.key_changes();
  return report;
}

ClientResult<std::vector<PublicKey>> Messenger::new_keys(const std::string& phone) {
  const auto pinned = profile_.contact(phone);
  if (!pinned) return client_failure(Failure::kLocal, phone + " is not among your contacts");
  std::vector<PublicKey> keys;
  if (const auto change = profile_.key_change(phone)) keys = change->offered;
  auto current = connection_.recipient_key(phone);
  // The server's word matters only when no held message names a key (e.g. before a send).
  if (!current.ok()) {
    if (keys.empty()) return current.error();
    return keys;
  }
  if (!(current.value() == pinned->key) &&
      std::find(keys.begin(), keys.end(), current.value()) == keys.end()) {
    keys.push_back(std::move(current).value());
  }
  return keys;
}

ClientResult<FetchReport> Messenger::accept_new_key(const std::string& phone,
                                                    const std::string& fingerprint) {
  // The candidates first: asking the server must not hold the profile's lock.
  auto candidates = new_keys(phone);
  if (!candidates.ok()) return candidates.error();
  const auto checked =
      std::find_if(candidates.value().begin(), candidates.value().end(),
                   [&](const PublicKey& k) { return k.has_fingerprint(fingerprint); });
  if (checked == candidates.value().end()) {
    std::string known;
    for (const PublicKey& k : candidates.value()) known += "\n  " + k.fingerprint();
    return client_failure(
        Failure::kSecurity,
        "no new key of " + phone + " has the fingerprint " + fingerprint +
            "; nothing was accepted." +
            (known.empty() ? " Its key has not changed." : " Its new key fingerprints:" + known));
  }
  const PublicKey key = *checked;

  // Held messages are read and rewritten: a fetch in another process must not append
  // between the two. The key is pinned last, so that a failure before it leaves the held
  // messages where a second accept finds them.
  auto lock = profile_.lock();
  if (!lock.ok()) return local_error(lock.error());
  std::set<std::string> in_history;
  for (const Json& entry : profile_.history()) {
    if (entry.value("direction", "") == "in" && entry.contains("id") && entry["id"].is_string())
      in_history.insert(entry["id"].get<std::string>());
  }
  FetchReport report;
  AcceptedEnvelopes accepted = AcceptedEnvelopes::from_lines(profile_.accepted());
  std::vector<Json> accepted_lines;
  std::vector<Json> still_held;
  std::vector<Json> history;
  for (const Json& entry : profile_.held()) {
    auto wire = WaitingMessage::from_json(entry);
    if (!wire.ok() || wire.value().senders_phone_number != phone) {
      still_held.push_back(entry);
      continue;
    }
    auto sender_key = PublicKey::from_pem(wire.value().senders_public_key);
    if (!sender_key.ok() || !(sender_key.value() == key)) {
      still_held.push_back(entry);  // sent under yet another key: stays held
      continue;
    }
    auto envelope = from_wire(wire.value().envelope, EnvelopeKind::kMessage);
    Result<TextMessage> message = Error{Errc::kAuthenticationFailed, "authentication failed"};
    if (envelope.ok()) {
      message = open_text_message(profile_.key(), profile_.phone(), sender_key.value(), phone,
                                  envelope.value());
    }
    if (!message.ok()) {
      report.failed_authentication += 1;
      history.push_back(dropped_entry(wire.value(), "authentication failed"));
      continue;
    }
    // Already in the history (and maybe in the record) when an earlier accept stopped
    // before pinning; otherwise a copy held twice under two ids is a replay.
    const bool resumed = in_history.contains(wire.value().message_id);
    if (!resumed && drop_if_replayed(accepted, wire.value(), envelope.value(), message.value(),
                                     report, history)) {
      continue;
    }
    if (accepted.check(phone, envelope.value().mac, message.value().sent_at) ==
        AcceptedEnvelopes::Verdict::kNew) {
      accepted_lines.push_back(accepted.add(phone, envelope.value().mac, message.value().sent_at));
    }
    if (!resumed) history.push_back(history_entry(wire.value(), message.value()));
    report.messages.push_back(
        {wire.value().message_id, phone, std::move(message).value(), wire.value().stored_at});
  }
  if (auto saved = profile_.append_history(history); !saved.ok()) return local_error(saved.error());
  if (auto saved = save_accepted(profile_, accepted, accepted_lines); !saved.ok())
    return local_error(saved.error());
  if (auto saved = profile_.replace_held(still_held); !saved.ok())
    return local_error(saved.error());
  if (auto saved = profile_.pin_contact(phone, key, now_ms()); !saved.ok())
    return local_error(saved.error());
  report.key_changes = profile_.key_changes();
  return report;
}

}  // namespace shido::client
