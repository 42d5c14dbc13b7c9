//! Flake references as Nix writes them in URLs: the percent-encoding of their query values.

/// Decodes `%XX` escapes leniently: anything that is not a valid escape stays as it is, and
/// `+` is not a space (Nix writes `+` raw in `narHash` values).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of one hexadecimal digit.
fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_leniently_as_nix_writes_it() {
        // Nix 2.8 writes `/` as `%2f` and leaves `+` and `=` raw; newer Nix writes `%3D`.
        assert_eq!(percent_decode("a%2fb%2Fc+d%3D"), "a/b/c+d=");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
