#!/usr/bin/env python3
"""Writes envelope_vectors.json: the Shido envelope (docs/PROTOCOL.md section 3) computed with
pinned randomness by an implementation independent of ours (pyca/cryptography and the
Python standard library), so that the C++ tests check libshido against it byte for byte.

Run from this folder: python3 make_envelope_vectors.py > envelope_vectors.json
Nothing in the build runs this script; the JSON it wrote is committed.
"""
import hashlib
import hmac
import json
import struct

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def key_from_scalar(hex_scalar):
    return ec.derive_private_key(int(hex_scalar, 16), ec.SECP256R1())


def public_pem(private_key):
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_der(private_key):
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def cbc_encrypt(key, iv, data):
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def lp(data):
    return struct.pack(">I", len(data)) + data


def fingerprint(der):
    digest = hashlib.sha256(der).hexdigest()
    return " ".join(digest[i:i + 4] for i in range(0, 64, 4))


def envelope(own_scalar, peer_scalar, purpose, context, plaintext, random):
    own = key_from_scalar(own_scalar)
    peer = key_from_scalar(peer_scalar)
    shared = own.exchange(ec.ECDH(), peer.public_key())
    # Randomness is drawn in this order: salt, aes_key, iv_w, iv_c.
    salt, aes_key, iv_w, iv_c = random[:16], random[16:48], random[48:64], random[64:80]
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=salt,
               info=b"shido/1 " + purpose.encode()).derive(shared)
    kek, mac_key = okm[:32], okm[32:]
    wrapped = cbc_encrypt(kek, iv_w, aes_key)
    ciphertext = cbc_encrypt(aes_key, iv_c, plaintext)
    mac_input = lp(purpose.encode()) + b"".join(lp(c) for c in context) + \
        lp(salt) + lp(iv_w) + lp(wrapped) + lp(iv_c) + lp(ciphertext)
    mac = hmac.new(mac_key, mac_input, hashlib.sha256).digest()
    return {
        "purpose": purpose,
        "own_private_scalar": own_scalar,
        "own_public_key_pem": public_pem(own),
        "own_fingerprint": fingerprint(public_der(own)),
        "peer_private_scalar": peer_scalar,
        "peer_public_key_pem": public_pem(peer),
        "peer_fingerprint": fingerprint(public_der(peer)),
        "context": [c.hex() for c in context],
        "plaintext": plaintext.hex(),
        "random": random.hex(),
        "shared_secret": shared.hex(),
        "okm": okm.hex(),
        "salt": salt.hex(),
        "iv_for_wrapped_key": iv_w.hex(),
        "wrapped_aes_key": wrapped.hex(),
        "iv_for_ciphertext": iv_c.hex(),
        "ciphertext": ciphertext.hex(),
        "mac_input": mac_input.hex(),
        "mac": mac.hex(),
    }


def main():
    client = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
    server = "519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464"
    other = "0f56db78ca460b055c500064824bed999a25aaf48ebb519ac201537b85479813"
    nonce = bytes(range(32))
    phone = b"+972501234567"
    random = bytes((7 * i + 3) % 256 for i in range(80))
    text = json.dumps({"type": "text", "body": "שלום, Shido ✓", "sent_at": 1795734000000},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    vectors = [
        envelope(client, server, "register", [phone, nonce], b"123456", random),
        envelope(client, server, "connect", [phone, nonce], b"654321", random[::-1]),
        envelope(client, other, "message", [phone, b"+14155550123"], text, bytes(80)),
    ]
    print(json.dumps({
        "description": "Shido envelope (protocol.md section 3) with pinned randomness",
        "generator": "tests/vectors/shido/make_envelope_vectors.py with pyca/cryptography",
        "vectors": vectors,
    }, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
