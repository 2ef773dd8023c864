//! Shared by the server targets: an input split into frames on the marker
//! `\xFF\xFEQW`.

/// The frames of `data`.
pub fn split(data: &[u8]) -> Vec<&[u8]> {
    const MARK: &[u8] = b"\xFF\xFEQW";
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(4).position(|w| w == MARK) {
        out.push(&rest[..i]);
        rest = &rest[i + 4..];
    }
    out.push(rest);
    out
}
