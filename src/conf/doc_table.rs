//! Renders the key table as markdown for `docs/connect-string.md` (which
//! is also the `conf` module's docs); a test keeps the file current.

use super::entry::Status;
use super::keys::KEYS;

/// Marks the start of the generated key table in `docs/connect-string.md`.
pub(crate) const TABLE_BEGIN: &str = "<!-- key table: generated from src/conf/keys.rs -->";
/// Marks its end.
pub(crate) const TABLE_END: &str = "<!-- end of key table -->";

/// The key table as markdown.
pub(crate) fn markdown_table() -> String {
    let mut out = String::from(
        "| Key | Aliases | Default | Schemes | Used by | Status | Since | Meaning |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for k in KEYS {
        let aliases: Vec<String> = k.aliases.iter().map(|a| format!("`{a}`")).collect();
        let schemes: Vec<&str> = k.transports.iter().map(|t| t.schemes()).collect();
        let status = match k.status {
            Status::Honoured => "honoured".to_owned(),
            Status::Refused(why) => format!("refused: {why}"),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            k.name,
            aliases.join(", "),
            k.default,
            schemes.join(", "),
            k.used_by.as_str(),
            status,
            k.since,
            k.meaning,
        ));
    }
    out
}

/// `doc` with the text between [`TABLE_BEGIN`] and [`TABLE_END`] replaced by
/// the current table; `None` if a marker is missing.
pub(crate) fn splice_table(doc: &str) -> Option<String> {
    let start = doc.find(TABLE_BEGIN)? + TABLE_BEGIN.len();
    let end = start + doc[start..].find(TABLE_END)?;
    Some(format!(
        "{}\n\n{}\n{}",
        &doc[..start],
        markdown_table(),
        &doc[end..]
    ))
}
