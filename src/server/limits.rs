//! Limits on SQL text, checked before DataFusion parses it: the size in
//! bytes and the expression complexity, so a hostile statement is refused
//! with PARSE_ERROR instead of overflowing a connection thread's stack.
//!
//! The complexity is an upper bound on how deep the parse, plan and
//! expression trees of a statement can nest, found by one linear pass over
//! the tokens of sqlparser's own tokenizer (so strings, quoted names and
//! comments are exactly what the parser will see):
//!
//! - each `(`, `[` or `{` opens a level that costs one;
//! - inside a level every token that is not a name, a literal, a comma or a
//!   bracket (operators, `.`, `::`, keywords such as AND, OR, NOT, CASE,
//!   WHEN, JOIN, UNION) extends the current chain by one — sqlparser builds
//!   such chains iteratively into left-deep trees as deep as the chain;
//! - a comma ends a chain (list items are siblings), except in a FROM list
//!   or a WITH list, whose items nest (cross joins, CTEs over CTEs);
//! - the complexity is the largest sum, over the open levels, of each
//!   level's chain plus one per level.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::storage::Reject;
use crate::protocol::Status;

/// Default for [`super::ServerBuilder::max_sql_bytes`]: 1 MiB.
pub const DEFAULT_MAX_SQL_BYTES: usize = 1024 * 1024;

/// Largest accepted SQL complexity (see [`super::ServerBuilder`] docs):
/// the bound on nesting plus operator-chain length that the connection
/// threads' stack ([`super::CONNECTION_STACK_BYTES`]) is sized for.
pub const MAX_SQL_COMPLEXITY: usize = 1000;

#[derive(Default)]
struct Level {
    /// What entering this level added to the levels around it.
    base: usize,
    /// Length of the current chain at this level.
    chain: usize,
    /// Inside a FROM or WITH list: commas nest rather than separate.
    nests: bool,
}

/// Refuses SQL above `max_bytes` or above [`MAX_SQL_COMPLEXITY`].
pub(crate) fn check(sql: &str, max_bytes: usize) -> Result<(), Reject> {
    if sql.len() > max_bytes {
        return Err(Reject::new(
            Status::ParseError,
            format!(
                "SQL text of {} bytes is above the server's limit of {max_bytes} bytes (max_sql_bytes)",
                sql.len()
            ),
        ));
    }
    let c = complexity(sql)?;
    if c > MAX_SQL_COMPLEXITY {
        return Err(Reject::new(
            Status::ParseError,
            format!(
                "SQL expression complexity {c} is above the server's limit of {MAX_SQL_COMPLEXITY} \
                 (nesting depth plus operator-chain length); split the expression or use IN (...) lists"
            ),
        ));
    }
    Ok(())
}

/// The complexity of `sql` (see the module docs).
pub(crate) fn complexity(sql: &str) -> Result<usize, Reject> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| Reject::new(Status::ParseError, format!("SQL does not tokenize: {e}")))?;
    let mut levels = vec![Level::default()];
    // Sum of `base` over the open levels.
    let mut above = 0usize;
    let mut worst = 0usize;
    for tok in &tokens {
        let Some(cur) = levels.last_mut() else {
            break;
        };
        match tok {
            Token::Whitespace(_)
            | Token::EOF
            | Token::Number(..)
            | Token::Char(_)
            | Token::Placeholder(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_) => {}
            Token::LParen | Token::LBracket | Token::LBrace => {
                if matches!(tok, Token::LBracket) {
                    // Subscript chains `a[1][2]…` nest.
                    cur.chain += 1;
                }
                let base = cur.chain + 1;
                above += base;
                levels.push(Level {
                    base,
                    ..Level::default()
                });
            }
            Token::RParen | Token::RBracket | Token::RBrace => {
                if levels.len() > 1
                    && let Some(l) = levels.pop()
                {
                    above -= l.base;
                }
            }
            Token::Comma => {
                if cur.nests {
                    cur.chain += 1;
                } else {
                    cur.chain = 0;
                }
            }
            Token::Word(w) if w.quote_style.is_some() || w.keyword == Keyword::NoKeyword => {}
            Token::Word(w) => {
                match w.keyword {
                    Keyword::FROM | Keyword::WITH => cur.nests = true,
                    Keyword::SELECT
                    | Keyword::VALUES
                    | Keyword::WHERE
                    | Keyword::GROUP
                    | Keyword::HAVING
                    | Keyword::ORDER
                    | Keyword::LIMIT
                    | Keyword::OFFSET
                    | Keyword::WINDOW
                    | Keyword::QUALIFY => cur.nests = false,
                    _ => {}
                }
                cur.chain += 1;
            }
            // Operators, `.`, `::`, `;` and anything else.
            _ => cur.chain += 1,
        }
        if let Some(cur) = levels.last() {
            worst = worst.max(above + cur.chain);
        }
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(sql: &str) -> usize {
        complexity(sql).unwrap()
    }

    #[test]
    fn chains_and_nesting_count() {
        assert_eq!(c("1"), 0);
        assert_eq!(c("1+1+1"), 2);
        assert_eq!(c(&format!("SELECT 1{}", "+1".repeat(300))), 301);
        assert_eq!(
            c(&format!("SELECT {}1{}", "(".repeat(50), ")".repeat(50))),
            1 + 50
        );
        // A chain inside parentheses adds to the chain around it.
        assert_eq!(c("SELECT 1 + (1 + 1 + 1)"), 2 + 1 + 2);
        // Subscripts and casts chain.
        assert_eq!(c("a[1][2][3]"), 3 + 1);
        assert_eq!(c("x::int::int"), 4);
    }

    #[test]
    fn lists_are_siblings_but_from_and_with_lists_nest() {
        let list: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
        let sql = format!("SELECT x FROM t WHERE x IN ({})", list.join(", "));
        assert!(c(&sql) < 10, "{}", c(&sql));
        let cols: Vec<String> = (0..5000).map(|i| format!("a + {i} AS c{i}")).collect();
        assert!(c(&format!("SELECT {} FROM t", cols.join(", "))) < 10);
        let from: Vec<&str> = vec!["t"; 2000];
        assert!(c(&format!("SELECT 1 FROM {}", from.join(", "))) >= 1999);
        let ctes: Vec<String> = (0..2000).map(|i| format!("c{i} AS (SELECT 1)")).collect();
        assert!(c(&format!("WITH {} SELECT 1", ctes.join(", "))) >= 1999);
        // After WHERE the commas separate again.
        assert!(c("SELECT a FROM t, u WHERE x = 1 GROUP BY a, b, c, d, e") < 12);
    }

    #[test]
    fn strings_and_comments_do_not_count() {
        let plus = "+1".repeat(5000);
        assert_eq!(c(&format!("SELECT '{plus}'")), 1);
        assert_eq!(c(&format!("SELECT 1 -- {plus}\n")), 1);
        assert_eq!(c(&format!("SELECT 1 /* {plus} */")), 1);
        assert_eq!(c(&format!("SELECT \"{plus}\" FROM t")), 2);
        // An escaped quote does not end the string early.
        assert_eq!(c(&format!("SELECT 'it''s {plus}'")), 1);
        assert_eq!(c(&format!("SELECT E'\\' {plus}'")), 1);
        // Unterminated text is refused rather than skipped.
        assert!(complexity("SELECT 'open 1+1").is_err());
    }

    #[test]
    fn ordinary_analytic_sql_is_far_below_the_limit() {
        let sql = "WITH daily AS (
              SELECT sym, date_trunc('day', ts) AS d, avg(px) AS a, max(px) - min(px) AS r
              FROM trades WHERE ts >= '2024-01-01' AND ts < '2024-02-01' AND (sym = 'a' OR sym = 'b')
              GROUP BY sym, date_trunc('day', ts))
            SELECT d.sym, d.d, d.a, CASE WHEN d.r > 10 THEN 'wide' WHEN d.r > 1 THEN 'mid' ELSE 'tight' END AS band,
                   sum(d.a) OVER (PARTITION BY d.sym ORDER BY d.d ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) / 7 AS wk
            FROM daily d JOIN (SELECT sym, count(*) AS n FROM trades GROUP BY sym) c ON c.sym = d.sym
            WHERE c.n > 100 ORDER BY d.sym, d.d LIMIT 1000";
        let n = c(sql);
        assert!(n < MAX_SQL_COMPLEXITY / 10, "{n}");
        assert!(check(sql, DEFAULT_MAX_SQL_BYTES).is_ok());
    }

    #[test]
    fn check_names_the_limits() {
        let e = check(&"x".repeat(101), 100).unwrap_err();
        assert_eq!(e.status, Status::ParseError);
        assert!(e.message.contains("max_sql_bytes"), "{}", e.message);
        let e = check(&format!("SELECT 1{}", "+1".repeat(2000)), 1 << 20).unwrap_err();
        assert_eq!(e.status, Status::ParseError);
        assert!(e.message.contains("complexity 2001"), "{}", e.message);
        assert!(e.message.contains(&MAX_SQL_COMPLEXITY.to_string()));
    }
}
