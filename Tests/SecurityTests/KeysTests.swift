import Foundation
import Testing

@testable import Security

@Suite struct KeyLoadingTests {
  @Test func publicKeyPEMRoundTrips() throws {
    for algorithm in JWTAlgorithm.allCases {
      let signer = try JWTSigner.generate(algorithm)
      #expect(signer.publicKeyPEM.hasPrefix("-----BEGIN PUBLIC KEY-----"))
      let trusted = try TrustedKey(pem: signer.publicKeyPEM, kid: "k")
      #expect(trusted.algorithm == algorithm)
      #expect(trusted.pem == signer.publicKeyPEM)
      let reloaded = try JWTSigner(privateKeyPEM: signer.privateKeyPEM)
      #expect(reloaded.publicKeyPEM == signer.publicKeyPEM)
    }
  }

  @Test func keysFromTheOpenSSLCommandLineLoad() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try run(
      "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
      "-out", directory + "/ec.pem")
    try run("openssl", "genpkey", "-algorithm", "ED25519", "-out", directory + "/ed.pem")
    try run(
      "openssl", "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out",
      directory + "/p384.pem")
    try run(
      "openssl", "req", "-x509", "-new", "-key", directory + "/ec.pem", "-subj", "/CN=gw",
      "-days", "1", "-out", directory + "/ec.crt")
    let ec = try JWTSigner(
      privateKeyPEM: String(contentsOfFile: directory + "/ec.pem", encoding: .utf8))
    #expect(ec.algorithm == .es256)
    #expect(
      try JWTSigner(privateKeyPEM: String(contentsOfFile: directory + "/ed.pem", encoding: .utf8))
        .algorithm == .edDSA)
    #expect(throws: KeyError.self) {
      try JWTSigner(privateKeyPEM: String(contentsOfFile: directory + "/p384.pem", encoding: .utf8))
    }
    // A certificate is accepted as a trusted key: its public key verifies the key's tokens.
    let certificate = try TrustedKey(
      pem: String(contentsOfFile: directory + "/ec.crt", encoding: .utf8))
    let verifier = JWTVerifier(
      trustedKeys: [certificate], issuer: Fixture.issuer, audience: Fixture.audience)
    _ = try verifier.verify(try ec.sign(Fixture.person()), now: Fixture.now)
  }

  @Test func garbageAndEncryptedKeysAreRefused() throws {
    #expect(throws: KeyError.unreadablePEM) { try TrustedKey(pem: "") }
    #expect(throws: KeyError.unreadablePEM) {
      try TrustedKey(pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    }
    #expect(throws: KeyError.encryptedPrivateKey) {
      try JWTSigner(
        privateKeyPEM:
          "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
    }
    // A private key is not accepted where a public key is configured.
    let signer = try JWTSigner.generate(.edDSA)
    #expect(throws: KeyError.unreadablePEM) { try TrustedKey(pem: signer.privateKeyPEM) }
  }
}

@Suite struct DevelopmentKeyTests {
  @Test func createsAnOwnerOnlyKeyThenLoadsTheSameOne() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/data/dev-signing-key.pem"
    let created = try DevelopmentKey.loadOrCreate(at: path)
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    #expect((attributes[.posixPermissions] as? Int) == 0o600)
    #expect(created.algorithm == .es256)
    #expect(created.kid?.hasPrefix("dev-") == true)

    let loaded = try DevelopmentKey.loadOrCreate(at: path)
    #expect(loaded.kid == created.kid)
    #expect(loaded.publicKeyPEM == created.publicKeyPEM)
    let verifier = JWTVerifier(
      trustedKeys: [loaded.trustedKey], issuer: Fixture.issuer, audience: Fixture.audience)
    #expect(
      try verifier.verify(created.sign(Fixture.person()), now: Fixture.now).keyID == created.kid)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory + "/data")
    #expect(leftovers == ["dev-signing-key.pem"])
  }

  @Test func edDSADevelopmentKey() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let signer = try DevelopmentKey.loadOrCreate(at: directory + "/k.pem", algorithm: .edDSA)
    #expect(signer.algorithm == .edDSA)
  }

  @Test func keyFileReadableByOthersIsRefused() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/k.pem"
    _ = try DevelopmentKey.loadOrCreate(at: path)
    chmod(path, 0o644)
    #expect(throws: KeyError.self) { try DevelopmentKey.loadOrCreate(at: path) }
  }
}

func temporaryDirectory() throws -> String {
  let path = NSTemporaryDirectory() + "sec-tests-" + Base64URL.encode(SecureRandom.bytes(6))
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

func run(_ arguments: String...) throws {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = arguments
  process.standardOutput = FileHandle.nullDevice
  process.standardError = FileHandle.nullDevice
  try process.run()
  process.waitUntilExit()
  struct CommandFailed: Error {}
  if process.terminationStatus != 0 { throw CommandFailed() }
}
