import Foundation

/// The signing key of development mode: kept as an unencrypted PEM file in the data
/// directory, readable only by its owner, created on first use. Its `kid` is
/// `dev-<fingerprint>`, so tokens it signs are recognisable in logs. Only a server started
/// with the explicit development flag may trust it (ARCHITECTURE.md, Security).
public enum DevelopmentKey {
  /// Suggested file name of the key in the data directory.
  public static let fileName = "dev-signing-key.pem"
  /// Suggested `iss` of development tokens, so they are never mistaken for the gateway's.
  public static let issuer = "urn:cassetto:development"

  /// Loads the private key at `path`, or creates one (`algorithm`, ES256 by default) there
  /// with permissions 0600 if no file exists. A file readable or writable by group or others,
  /// or a symbolic link, is refused rather than trusted.
  public static func loadOrCreate(at path: String, algorithm: JWTAlgorithm = .es256)
    throws(KeyError) -> JWTSigner
  {
    if let existing = try load(at: path) { return existing }
    let created = try JWTSigner.generate(algorithm)
    try writeNew(Array(created.privateKeyPEM.utf8), at: path)
    // Another process may have won the race to create the file: use what is there.
    guard let stored = try load(at: path) else {
      throw .fileSystem("\(path): vanished after it was written")
    }
    return stored
  }

  /// The key at `path` with its development `kid`, or `nil` if there is no file.
  static func load(at path: String) throws(KeyError) -> JWTSigner? {
    var info = stat()
    if lstat(path, &info) != 0 {
      if errno == ENOENT { return nil }
      throw .fileSystem("\(path): \(String(cString: strerror(errno)))")
    }
    guard info.st_mode & S_IFMT == S_IFREG else {
      throw .fileSystem("\(path): not a regular file")
    }
    guard info.st_mode & 0o077 == 0 else {
      throw .fileSystem("\(path): readable by others; run chmod 600 on it")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .fileSystem("\(path): cannot be read")
    }
    let key = try EVPKey.privateKey(pem: String(decoding: data, as: UTF8.self))
    let unnamed = JWTSigner(key: key, kid: nil)
    return JWTSigner(key: key, kid: "dev-" + unnamed.publicKeyFingerprint)
  }

  /// Writes `bytes` to a new file at `path` (mode 0600, flushed to disk), never replacing an
  /// existing file.
  static func writeNew(_ bytes: [UInt8], at path: String) throws(KeyError) {
    func failure(_ what: String) -> KeyError {
      .fileSystem("\(path): \(what): \(String(cString: strerror(errno)))")
    }
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
      guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
        throw failure("cannot create directory")
      }
    }
    let temporary = path + ".tmp-" + Base64URL.encode(SecureRandom.bytes(6))
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw failure("cannot create") }
    defer { unlink(temporary) }
    var ok = fchmod(fd, 0o600) == 0
    var offset = 0
    while ok && offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      if written > 0 {
        offset += written
      } else if !(written < 0 && errno == EINTR) {
        ok = false
      }
    }
    ok = ok && fsync(fd) == 0
    close(fd)
    guard ok else { throw failure("cannot write") }
    // link() fails with EEXIST instead of replacing a key another process just created.
    if link(temporary, path) != 0 && errno != EEXIST { throw failure("cannot store") }
    let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
    if directoryFD >= 0 {
      fsync(directoryFD)
      close(directoryFD)
    }
  }
}
