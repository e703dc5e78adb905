//! Host names in URL authorities and `Host` headers.

/// `host:port` → `host`; an authority without a port is returned whole (IPv6 literals keep their
/// brackets: `[::1]:8080` → `[::1]`).
pub fn strip_port(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::strip_port;

    #[test]
    fn ports_go_and_ipv6_literals_stay_whole() {
        assert_eq!(strip_port("localhost:8080"), "localhost");
        assert_eq!(strip_port("localhost"), "localhost");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("::1"), "::1");
    }
}
