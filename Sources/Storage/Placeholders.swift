extension SQLDialect {
  /// `sql` with its `?` parameters in this dialect's form: unchanged for SQLite, `$1`, `$2`, …
  /// for PostgreSQL. A `?` inside a string literal (`'…'`), a quoted identifier (`"…"`), or a
  /// comment (`-- …`, `/* … */`) is left alone. (PostgreSQL's JSON `?` operators therefore
  /// cannot be written in shared SQL; use `jsonb_exists(…)`.)
  public func placeholders(in sql: String) -> String {
    guard self == .postgres else { return sql }
    var out = ""
    out.reserveCapacity(sql.utf8.count + 8)
    var number = 0
    var iterator = sql.makeIterator()
    var pending: Character? = nil
    func next() -> Character? {
      if let character = pending {
        pending = nil
        return character
      }
      return iterator.next()
    }
    while let character = next() {
      switch character {
      case "?":
        number += 1
        out += "$\(number)"
      case "'", "\"":
        // Copy up to the closing quote; a doubled quote is an escaped one and stays inside.
        out.append(character)
        while let inner = next() {
          out.append(inner)
          if inner == character { break }
        }
      case "-":
        out.append(character)
        guard let following = next() else { break }
        if following == "-" {
          out.append(following)
          while let inner = next() {
            out.append(inner)
            if inner == "\n" { break }
          }
        } else {
          pending = following
        }
      case "/":
        out.append(character)
        guard let following = next() else { break }
        if following == "*" {
          out.append(following)
          var previous: Character = " "
          while let inner = next() {
            out.append(inner)
            if previous == "*" && inner == "/" { break }
            previous = inner
          }
        } else {
          pending = following
        }
      default:
        out.append(character)
      }
    }
    return out
  }
}
