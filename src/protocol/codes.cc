#include "shido/protocol/codes.h"

#include <array>

namespace shido {

namespace {

struct CodeInfo {
  Code code;
  std::string_view name;
};

// Every code of docs/PROTOCOL.md section 4 with its protocol name.
constexpr std::array<CodeInfo, 34> kCodes = {{
    {Code::kHello, "HELLO"},
    {Code::kSendPhoneNumber, "SEND_PHONE_NUMBER"},
    {Code::kSendPublicKey, "SEND_PUBLIC_KEY"},
    {Code::kConnectRequest, "CONNECT_REQUEST"},
    {Code::kCommunicationRequest, "COMMUNICATION_REQUEST"},
    {Code::kSendMessage, "SEND_MESSAGE"},
    {Code::kCheckWaitingMessages, "CHECK_WAITING_MESSAGES"},
    {Code::kAckMessages, "ACK_MESSAGES"},
    {Code::kGeneralClientError, "GENERAL_CLIENT_ERROR"},
    {Code::kBye, "BYE"},
    {Code::kServerPublicKey, "SEND_PUBLIC_KEY"},
    {Code::kCodeSent, "CODE_SENT"},
    {Code::kRegisterSuccess, "REGISTER_SUCCESS"},
    {Code::kConnectRequestAccepted, "CONNECT_REQUEST_ACCEPTED"},
    {Code::kSendYourEncryptedMessage, "SEND_YOUR_ENCRYPTED_MESSAGE"},
    {Code::kMessageStored, "MESSAGE_STORED"},
    {Code::kCheckWaitingMessagesApproved, "CHECK_WAITING_MESSAGES_APPROVED"},
    {Code::kWaitingMessage, "WAITING_MESSAGE"},
    {Code::kAckOk, "ACK_OK"},
    {Code::kGeneralServerError, "GENERAL_SERVER_ERROR"},
    {Code::kConnectRequestNotAccepted, "CONNECT_REQUEST_NOT_ACCEPTED"},
    {Code::kInvalidPhoneNumber, "INVALID_PHONE_NUMBER"},
    {Code::kInvalidSecretCode, "INVALID_SECRET_CODE"},
    {Code::kInvalidEmail, "INVALID_EMAIL"},
    {Code::kAlreadyRegistered, "ALREADY_REGISTERED"},
    {Code::kNotAuthenticated, "NOT_AUTHENTICATED"},
    {Code::kBadRequest, "BAD_REQUEST"},
    {Code::kFrameTooLarge, "FRAME_TOO_LARGE"},
    {Code::kMailboxFull, "MAILBOX_FULL"},
    {Code::kRateLimited, "RATE_LIMITED"},
    {Code::kServerBusy, "SERVER_BUSY"},
    {Code::kUnexpectedCode, "UNEXPECTED_CODE"},
    {Code::kUserNotFound, "USER_NOT_FOUND"},
    {Code::kUnsupportedProtocol, "UNSUPPORTED_PROTOCOL"},
}};

}  // namespace

std::optional<Code> code_from_int(long long value) {
  for (const CodeInfo& info : kCodes) {
    if (static_cast<long long>(info.code) == value) return info.code;
  }
  return std::nullopt;
}

std::string_view code_name(Code code) {
  for (const CodeInfo& info : kCodes) {
    if (info.code == code) return info.name;
  }
  return "UNKNOWN";
}

bool is_client_code(Code code) {
  switch (code) {
    case Code::kHello:
    case Code::kSendPhoneNumber:
    case Code::kSendPublicKey:
    case Code::kConnectRequest:
    case Code::kCommunicationRequest:
    case Code::kSendMessage:
    case Code::kCheckWaitingMessages:
    case Code::kAckMessages:
    case Code::kGeneralClientError:
    case Code::kBye:
      return true;
    default:
      return false;
  }
}

bool is_error_code(Code code) {
  switch (code) {
    case Code::kGeneralServerError:
    case Code::kConnectRequestNotAccepted:
    case Code::kInvalidPhoneNumber:
    case Code::kInvalidSecretCode:
    case Code::kInvalidEmail:
    case Code::kAlreadyRegistered:
    case Code::kNotAuthenticated:
    case Code::kBadRequest:
    case Code::kFrameTooLarge:
    case Code::kMailboxFull:
    case Code::kRateLimited:
    case Code::kServerBusy:
    case Code::kUnexpectedCode:
    case Code::kUserNotFound:
    case Code::kUnsupportedProtocol:
      return true;
    default:
      return false;
  }
}

}  // namespace shido
