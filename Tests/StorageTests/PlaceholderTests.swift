import Storage
import Testing

@Suite("Parameter placeholders")
struct PlaceholderTests {
  @Test func sqliteKeepsQuestionMarks() {
    #expect(SQLDialect.sqlite.placeholders(in: "SELECT ? , ?") == "SELECT ? , ?")
  }

  @Test func postgresNumbersThemInOrder() {
    #expect(
      SQLDialect.postgres.placeholders(in: "INSERT INTO t (a, b) VALUES (?, ?) RETURNING id")
        == "INSERT INTO t (a, b) VALUES ($1, $2) RETURNING id")
  }

  @Test func postgresLeavesQuotedTextAndCommentsAlone() {
    let sql = """
      SELECT 'what?', 'it''s ?', "odd?name", a - ? -- really?
      FROM t /* why? */ WHERE b = ? AND c = 4/2
      """
    let expected = """
      SELECT 'what?', 'it''s ?', "odd?name", a - $1 -- really?
      FROM t /* why? */ WHERE b = $2 AND c = 4/2
      """
    #expect(SQLDialect.postgres.placeholders(in: sql) == expected)
  }
}
