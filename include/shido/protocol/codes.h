// The protocol's message codes (docs/PROTOCOL.md section 4).
#pragma once

#include <optional>
#include <string_view>

namespace shido {

enum class Code : int {
  // Client to server
  kHello = 200,
  kSendPhoneNumber = 102,
  kSendPublicKey = 103,
  kConnectRequest = 201,
  kCommunicationRequest = 203,
  kSendMessage = 110,
  kCheckWaitingMessages = 202,
  kAckMessages = 120,
  kGeneralClientError = 105,
  kBye = 199,
  // Server to client
  kServerPublicKey = 101,
  kCodeSent = 115,
  kRegisterSuccess = 104,
  kConnectRequestAccepted = 106,
  kSendYourEncryptedMessage = 111,
  kMessageStored = 118,
  kCheckWaitingMessagesApproved = 112,
  kWaitingMessage = 119,
  kAckOk = 121,
  // Server errors: each reply carries "error_description"
  kGeneralServerError = 100,
  kConnectRequestNotAccepted = 107,
  kInvalidPhoneNumber = 108,
  kInvalidSecretCode = 109,
  kInvalidEmail = 113,
  kAlreadyRegistered = 114,
  kNotAuthenticated = 123,
  kBadRequest = 124,
  kFrameTooLarge = 125,
  kMailboxFull = 126,
  kRateLimited = 127,
  kServerBusy = 128,
  kUnexpectedCode = 129,
  kUserNotFound = 131,
  kUnsupportedProtocol = 132,
};

inline constexpr int kProtocolVersion = 1;

// The code for an integer, or nullopt when the protocol has no such code.
std::optional<Code> code_from_int(long long value);

// The protocol's name of a code, e.g. "SEND_MESSAGE"; "UNKNOWN" for none.
std::string_view code_name(Code code);

// True for the codes a client sends.
bool is_client_code(Code code);

// True for the server's error codes (those that carry error_description).
bool is_error_code(Code code);

}  // namespace shido
