//! The `xdbc_*` fields of a `get_objects` column: ODBC's SQL type codes
//! and sizes for a QuestDB type name as `table_columns()` gives it
//! (`TIMESTAMP`, `DECIMAL(18,3)`, `DOUBLE[]`, ...). Types without an ODBC
//! counterpart (arrays) have no type code; every field that does not
//! apply is null.

/// ODBC type codes (`sql.h`, `sqlext.h`).
mod sql {
    pub const BIT: i16 = -7;
    pub const TINYINT: i16 = -6;
    pub const SMALLINT: i16 = 5;
    pub const INTEGER: i16 = 4;
    pub const BIGINT: i16 = -5;
    pub const REAL: i16 = 7;
    pub const DOUBLE: i16 = 8;
    pub const DECIMAL: i16 = 3;
    pub const VARCHAR: i16 = 12;
    pub const WCHAR: i16 = -8;
    pub const GUID: i16 = -11;
    pub const LONGVARBINARY: i16 = -4;
    pub const DATETIME: i16 = 9;
    pub const TYPE_TIMESTAMP: i16 = 93;
    /// `SQL_CODE_TIMESTAMP`: the datetime subcode of a timestamp.
    pub const CODE_TIMESTAMP: i16 = 3;
}

/// The ODBC description of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Xdbc {
    /// `xdbc_data_type` (the concise type code).
    pub(crate) data_type: Option<i16>,
    /// `xdbc_sql_data_type` (the verbose code: `SQL_DATETIME` for
    /// timestamps).
    pub(crate) sql_data_type: Option<i16>,
    /// `xdbc_datetime_sub`.
    pub(crate) datetime_sub: Option<i16>,
    /// `xdbc_column_size`: digits of a number (bits of a float), characters
    /// of a fixed text form.
    pub(crate) column_size: Option<i32>,
    /// `xdbc_decimal_digits`: a DECIMAL's scale, a timestamp's fractional
    /// second digits.
    pub(crate) decimal_digits: Option<i16>,
    /// `xdbc_num_prec_radix`: 10 for exact numbers, 2 for floats.
    pub(crate) radix: Option<i16>,
    /// Whether the column can hold NULL: not QuestDB's BOOLEAN, BYTE and
    /// SHORT (they have no NULL), nor a designated timestamp.
    pub(crate) nullable: bool,
}

impl Xdbc {
    /// The description of a column of QuestDB type `type_name`.
    pub(crate) fn of(type_name: &str, designated: bool) -> Xdbc {
        let upper = type_name.to_ascii_uppercase();
        let base = upper
            .split(['(', '['])
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let array = upper.contains('[');
        let plain = |code: i16| (Some(code), Some(code), None);
        let number = |size: i32, radix: i16| (Some(size), None, Some(radix));
        let ((data_type, sql_data_type, datetime_sub), (column_size, decimal_digits, radix)) =
            match base.as_str() {
                _ if array => ((None, None, None), (None, None, None)),
                "BOOLEAN" => (plain(sql::BIT), (Some(1), None, None)),
                "BYTE" => (plain(sql::TINYINT), number(3, 10)),
                "SHORT" => (plain(sql::SMALLINT), number(5, 10)),
                "INT" => (plain(sql::INTEGER), number(10, 10)),
                "LONG" => (plain(sql::BIGINT), number(19, 10)),
                "FLOAT" => (plain(sql::REAL), number(24, 2)),
                "DOUBLE" => (plain(sql::DOUBLE), number(53, 2)),
                "DECIMAL" => {
                    let (p, s) = decimal_args(&upper);
                    (plain(sql::DECIMAL), (p, s, Some(10)))
                }
                "CHAR" => (plain(sql::WCHAR), (Some(1), None, None)),
                "VARCHAR" | "STRING" | "SYMBOL" => (plain(sql::VARCHAR), (None, None, None)),
                "IPV4" => (plain(sql::VARCHAR), (Some(15), None, None)),
                "LONG256" => (plain(sql::VARCHAR), (Some(66), None, None)),
                "UUID" => (plain(sql::GUID), (Some(36), None, None)),
                "BINARY" => (plain(sql::LONGVARBINARY), (None, None, None)),
                "TIMESTAMP" | "DATE" | "TIMESTAMP_NS" => {
                    let digits: i16 = match base.as_str() {
                        "DATE" => 3,
                        "TIMESTAMP" => 6,
                        _ => 9,
                    };
                    (
                        (
                            Some(sql::TYPE_TIMESTAMP),
                            Some(sql::DATETIME),
                            Some(sql::CODE_TIMESTAMP),
                        ),
                        // "yyyy-mm-dd hh:mm:ss." and the fraction.
                        (Some(20 + i32::from(digits)), Some(digits), None),
                    )
                }
                _ => ((None, None, None), (None, None, None)),
            };
        Xdbc {
            data_type,
            sql_data_type,
            datetime_sub,
            column_size,
            decimal_digits,
            radix,
            nullable: !designated && !matches!(base.as_str(), "BOOLEAN" | "BYTE" | "SHORT"),
        }
    }
}

/// Precision and scale of `DECIMAL(p,s)`.
fn decimal_args(upper: &str) -> (Option<i32>, Option<i16>) {
    let inner = upper
        .split_once('(')
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(a, _)| a)
        .unwrap_or_default();
    let mut it = inner.split(',').map(|x| x.trim());
    let p = it.next().and_then(|x| x.parse().ok());
    let s = it.next().and_then(|x| x.parse().ok());
    (p, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questdb_types_map_to_odbc_codes() {
        let ts = Xdbc::of("TIMESTAMP", true);
        assert_eq!(ts.data_type, Some(93));
        assert_eq!(ts.sql_data_type, Some(9));
        assert_eq!(ts.datetime_sub, Some(3));
        assert_eq!(ts.decimal_digits, Some(6));
        assert!(!ts.nullable, "a designated timestamp is never NULL");
        assert!(Xdbc::of("TIMESTAMP", false).nullable);
        assert_eq!(Xdbc::of("TIMESTAMP_NS", false).decimal_digits, Some(9));
        let d = Xdbc::of("DECIMAL(18,3)", false);
        assert_eq!(
            (d.data_type, d.column_size, d.decimal_digits),
            (Some(3), Some(18), Some(3))
        );
        assert_eq!(Xdbc::of("LONG", false).data_type, Some(-5));
        assert_eq!(Xdbc::of("DOUBLE", false).radix, Some(2));
        assert_eq!(Xdbc::of("SYMBOL", false).data_type, Some(12));
        assert!(!Xdbc::of("BOOLEAN", false).nullable);
        let arr = Xdbc::of("DOUBLE[][]", false);
        assert_eq!((arr.data_type, arr.column_size), (None, None));
        assert_eq!(Xdbc::of("GEOHASH(5c)", false).data_type, None);
    }
}
