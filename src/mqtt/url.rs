//! Broker URLs: `mqtt://host:port`, `mqtts://host:port`, `ws://host:port/path`, `wss://host:port/path`, `tcp://...`, or bare `host:port`.

use std::fmt;
use std::str::FromStr;

/// The path a WebSocket URL without one connects to (what mosquitto, EMQX, HiveMQ and the
/// MQTT.js / Paho clients use).
pub const DEFAULT_WEBSOCKET_PATH: &str = "/mqtt";
/// Longest WebSocket path (with query) accepted; real ones are short, and this bounds what an
/// error message or the HTTP request line can carry.
const MAX_PATH_BYTES: usize = 2048;

/// How the session reaches the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain TCP (`mqtt://`, `tcp://`), default port 1883.
    Tcp,
    /// TLS over TCP (`mqtts://`, `ssl://`, `tls://`), default port 8883; the server is verified.
    Tls,
    /// MQTT over a WebSocket (`ws://`), default port 80, default path `/mqtt`.
    Ws,
    /// MQTT over a WebSocket over TLS (`wss://`), default port 443, default path `/mqtt`; the
    /// server is verified exactly as for `mqtts://`.
    Wss,
}

impl Transport {
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tcp => 1883,
            Transport::Tls => 8883,
            // The URL schemes' own defaults (RFC 6455), as browsers and MQTT.js apply them.
            Transport::Ws => 80,
            Transport::Wss => 443,
        }
    }

    /// The canonical URL scheme.
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Tcp => "mqtt",
            Transport::Tls => "mqtts",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }

    /// True when the connection is encrypted and the server verified (`mqtts://`, `wss://`).
    pub fn is_tls(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// True for the WebSocket transports (`ws://`, `wss://`), which have a path.
    pub fn is_websocket(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }
}

/// Where the broker is. `host` is a DNS name or an IP address (IPv6 without brackets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerUrl {
    pub transport: Transport,
    pub host: String,
    pub port: u16,
    /// The HTTP path (with any query) of a WebSocket endpoint, starting with `/`; empty for
    /// `mqtt://` and `mqtts://`.
    pub path: String,
}

impl BrokerUrl {
    /// A URL with the transport's default path (`/mqtt` for WebSockets, none otherwise).
    pub fn new(transport: Transport, host: impl Into<String>, port: u16) -> Self {
        BrokerUrl {
            transport,
            host: host.into(),
            port,
            path: default_path(transport).to_string(),
        }
    }

    /// `host:port`, with brackets around an IPv6 address (what a socket connect wants).
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.bracketed_host(), self.port)
    }

    fn bracketed_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

fn default_path(transport: Transport) -> &'static str {
    if transport.is_websocket() {
        DEFAULT_WEBSOCKET_PATH
    } else {
        ""
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.transport.scheme(),
            self.host_port(),
            self.path
        )
    }
}

/// Why a broker URL was not understood (the message is shown to the user as is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid broker URL `{input}`: {problem}")]
pub struct BrokerUrlError {
    pub input: String,
    pub problem: String,
}

impl FromStr for BrokerUrl {
    type Err = BrokerUrlError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        let shown = redact_credentials(text);
        let fail = |problem: &str| BrokerUrlError {
            input: shown.clone(),
            problem: problem.to_string(),
        };
        if text.is_empty() {
            return Err(fail(
                "it is empty; expected mqtt://host:port, mqtts://host:port or ws(s)://host:port/path",
            ));
        }

        let (transport, rest) = match text.split_once("://") {
            Some((scheme, rest)) => {
                let transport = match scheme.to_ascii_lowercase().as_str() {
                    "mqtt" | "tcp" => Transport::Tcp,
                    "mqtts" | "ssl" | "tls" => Transport::Tls,
                    "ws" => Transport::Ws,
                    "wss" => Transport::Wss,
                    _ => {
                        return Err(fail(&format!(
                            "unknown scheme `{scheme}`; use mqtt:// (TCP), mqtts:// (TLS), ws:// (WebSocket) or wss:// (WebSocket over TLS)"
                        )));
                    }
                };
                (transport, rest)
            }
            None => (Transport::Tcp, text),
        };

        // The authority ends at the first `/`, `?` or `#`; what follows is the path part.
        let (authority, path_part) = match rest.find(['/', '?', '#']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        // Anywhere, not only in the authority: a password holding `/` would otherwise be read
        // as a path and parts of it echoed in the next error.
        if rest.contains('@') {
            return Err(fail(
                "credentials do not belong in the URL; use --username and --password-env, or the connection dialog",
            ));
        }
        let path = if transport.is_websocket() {
            websocket_path(path_part).map_err(|problem| fail(&problem))?
        } else {
            // A trailing slash is harmless; any other path, query or fragment means something
            // we would silently ignore, so say so.
            if !path_part.is_empty() && path_part != "/" {
                return Err(fail(
                    "a path, query or fragment is not supported for mqtt:// and mqtts://; give only host and port (paths belong to ws:// and wss://)",
                ));
            }
            String::new()
        };
        if authority.is_empty() {
            return Err(fail("the host is missing"));
        }

        let (host, port_text) = if let Some(after_bracket) = authority.strip_prefix('[') {
            let (host, after) = after_bracket
                .split_once(']')
                .ok_or_else(|| fail("an IPv6 address must be closed with `]`"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(fail(&format!("`{host}` is not an IPv6 address")));
            }
            let port_text = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| fail("expected `:port` after the IPv6 address"))?,
                ),
            };
            (host, port_text)
        } else {
            match authority.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => {
                    return Err(fail(
                        "an IPv6 address needs brackets, e.g. mqtt://[::1]:1883",
                    ));
                }
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };

        if host.is_empty() {
            return Err(fail("the host is missing"));
        }
        if !host.contains(':') && !is_hostname(host) {
            return Err(fail(&format!(
                "`{host}` is not a valid host name or IP address"
            )));
        }

        let port = match port_text {
            None => transport.default_port(),
            Some("") => return Err(fail("the port after `:` is missing")),
            Some(port) => match port.parse::<u16>() {
                Ok(0) => return Err(fail("port 0 cannot be connected to")),
                Ok(port) => port,
                Err(_) => {
                    return Err(fail(&format!("`{port}` is not a port number (1-65535)")));
                }
            },
        };

        Ok(BrokerUrl {
            transport,
            host: host.to_string(),
            port,
            path,
        })
    }
}

/// The path (with query) of a WebSocket URL from what follows the authority: `/mqtt` when
/// there is none, otherwise as given (already percent-encoded; nothing is decoded).
fn websocket_path(path_part: &str) -> Result<String, String> {
    if path_part.contains('#') {
        return Err(
            "a fragment (`#...`) is never sent to the server; remove it from the URL".to_string(),
        );
    }
    if path_part.len() > MAX_PATH_BYTES {
        return Err(format!(
            "the WebSocket path is {} bytes long; at most {MAX_PATH_BYTES} are accepted",
            path_part.len()
        ));
    }
    let path = match path_part.strip_prefix('?') {
        _ if path_part.is_empty() => DEFAULT_WEBSOCKET_PATH.to_string(),
        // `ws://host?x=1`: the path is missing but a query is given.
        Some(_) => format!("{DEFAULT_WEBSOCKET_PATH}{path_part}"),
        None => path_part.to_string(),
    };
    let bytes = path.as_bytes();
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        if b == b'%' {
            let escaped = bytes
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit));
            if !escaped {
                return Err("a `%` in the WebSocket path must start an escape like %20".to_string());
            }
            at += 3;
            continue;
        }
        // RFC 3986 pchar, `/` and `?`: anything else (spaces, quotes, non-ASCII) must be
        // percent-encoded, or the HTTP request line would be malformed.
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:/?".contains(&b);
        if !allowed {
            let shown = path
                .get(at..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or('?');
            return Err(format!(
                "the WebSocket path has `{}`, which must be percent-encoded",
                shown.escape_debug()
            ));
        }
        at += 1;
    }
    Ok(path)
}

/// The URL with anything before an `@` (user and password) replaced by `***`: error messages
/// must never echo a password.
fn redact_credentials(text: &str) -> String {
    let Some((before, after)) = text.rsplit_once('@') else {
        return text.to_string();
    };
    match before.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://***@{after}"),
        None => format!("***@{after}"),
    }
}

/// A DNS name or IPv4 address: ASCII letters, digits, `-`, `_`, `.`; labels not empty.
fn is_hostname(host: &str) -> bool {
    host.len() <= 253
        && host.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_accepted_forms() {
        let cases: &[(&str, Transport, &str, u16)] = &[
            (
                "mqtt://broker.example:1884",
                Transport::Tcp,
                "broker.example",
                1884,
            ),
            (
                "mqtt://broker.example",
                Transport::Tcp,
                "broker.example",
                1883,
            ),
            (
                "mqtt://broker.example/",
                Transport::Tcp,
                "broker.example",
                1883,
            ),
            (
                "MQTT://Broker.Example:1",
                Transport::Tcp,
                "Broker.Example",
                1,
            ),
            ("tcp://10.0.0.7:1883", Transport::Tcp, "10.0.0.7", 1883),
            (
                "mqtts://broker.example",
                Transport::Tls,
                "broker.example",
                8883,
            ),
            (
                "mqtts://broker.example:443",
                Transport::Tls,
                "broker.example",
                443,
            ),
            (
                "ssl://broker.example",
                Transport::Tls,
                "broker.example",
                8883,
            ),
            (
                "tls://broker.example:8884",
                Transport::Tls,
                "broker.example",
                8884,
            ),
            ("localhost:1883", Transport::Tcp, "localhost", 1883),
            ("localhost", Transport::Tcp, "localhost", 1883),
            ("  127.0.0.1:65535 ", Transport::Tcp, "127.0.0.1", 65535),
            ("mqtt://[::1]:1884", Transport::Tcp, "::1", 1884),
            ("mqtts://[fe80::1]", Transport::Tls, "fe80::1", 8883),
            ("[::1]:1883", Transport::Tcp, "::1", 1883),
            (
                "my_broker-1.local:1883",
                Transport::Tcp,
                "my_broker-1.local",
                1883,
            ),
        ];
        for (input, transport, host, port) in cases {
            let url: BrokerUrl = input
                .parse()
                .unwrap_or_else(|e| panic!("{input} should parse: {e}"));
            assert_eq!(url, BrokerUrl::new(*transport, *host, *port), "{input}");
        }
    }

    #[test]
    fn refuses_with_clear_words() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            ("http://broker:80", "unknown scheme `http`"),
            ("mqtt://", "host is missing"),
            ("mqtt://:1883", "host is missing"),
            ("mqtt://broker:", "port after `:` is missing"),
            ("mqtt://broker:0", "port 0"),
            ("mqtt://broker:65536", "not a port number"),
            ("mqtt://broker:abc", "not a port number"),
            ("mqtt://broker:1883/mqtt", "path"),
            ("mqtt://broker:1883?x=1", "query"),
            ("mqtt://user:secret@broker:1883", "credentials"),
            ("user:secret@broker", "credentials"),
            ("wss://user:secret@broker", "credentials"),
            ("ws://user:pa/ss@broker:80/mqtt", "credentials"),
            ("ws://broker/mqtt#frag", "fragment"),
            ("wss://broker/mq tt", "percent-encoded"),
            ("ws://broker/m\u{e9}", "percent-encoded"),
            ("ws://broker/a%2", "escape"),
            ("ws://broker/a%zz", "escape"),
            ("ws://:80/mqtt", "host is missing"),
            ("ws:///mqtt", "host is missing"),
            ("wss://broker:0/mqtt", "port 0"),
            ("ws://[::1/mqtt", "closed with `]`"),
            ("http://user:secret@broker/x", "unknown scheme"),
            ("mqtt://::1:1883", "needs brackets"),
            ("mqtt://[::1", "closed with `]`"),
            ("mqtt://[nope]:1883", "not an IPv6 address"),
            ("mqtt://[::1]1883", "`:port`"),
            ("mqtt://bro ker:1883", "not a valid host"),
            ("mqtt://bro..ker", "not a valid host"),
        ];
        for (input, expected) in cases {
            let error = input
                .parse::<BrokerUrl>()
                .expect_err(&format!("{input:?} should be refused"));
            let text = error.to_string();
            assert!(
                text.contains(expected),
                "{input:?}: `{text}` should mention `{expected}`"
            );
            assert!(!text.contains("secret"), "the password must not be echoed");
        }
    }

    #[test]
    fn displays_canonically_and_round_trips() {
        for input in [
            "mqtt://broker.example:1883",
            "mqtts://broker.example:8883",
            "mqtt://[::1]:1884",
            "mqtts://10.1.2.3:443",
        ] {
            let url: BrokerUrl = input.parse().expect("parses");
            assert_eq!(url.to_string(), input);
            assert_eq!(
                url.to_string().parse::<BrokerUrl>().expect("round trip"),
                url
            );
        }
        let bare: BrokerUrl = "localhost".parse().expect("parses");
        assert_eq!(bare.to_string(), "mqtt://localhost:1883");
        let tls: BrokerUrl = "ssl://h".parse().expect("parses");
        assert_eq!(tls.to_string(), "mqtts://h:8883");
    }

    #[test]
    fn parses_websocket_urls_with_default_ports_and_paths() {
        let cases: &[(&str, Transport, &str, u16, &str)] = &[
            (
                "ws://broker.example",
                Transport::Ws,
                "broker.example",
                80,
                "/mqtt",
            ),
            (
                "ws://broker.example:8080",
                Transport::Ws,
                "broker.example",
                8080,
                "/mqtt",
            ),
            ("WS://Broker:8080/", Transport::Ws, "Broker", 8080, "/"),
            ("ws://broker:9001/ws", Transport::Ws, "broker", 9001, "/ws"),
            (
                "wss://broker.example",
                Transport::Wss,
                "broker.example",
                443,
                "/mqtt",
            ),
            (
                "wss://broker.example:8884/mqtt",
                Transport::Wss,
                "broker.example",
                8884,
                "/mqtt",
            ),
            (
                "wss://10.0.0.1/a/b%20c",
                Transport::Wss,
                "10.0.0.1",
                443,
                "/a/b%20c",
            ),
            (
                "wss://h/mqtt?token=a-b.c~d&x=1",
                Transport::Wss,
                "h",
                443,
                "/mqtt?token=a-b.c~d&x=1",
            ),
            ("ws://h:81?x=1", Transport::Ws, "h", 81, "/mqtt?x=1"),
            ("ws://[::1]:8080/mqtt", Transport::Ws, "::1", 8080, "/mqtt"),
            ("wss://[fe80::1]", Transport::Wss, "fe80::1", 443, "/mqtt"),
        ];
        for (input, transport, host, port, path) in cases {
            let url: BrokerUrl = input
                .parse()
                .unwrap_or_else(|e| panic!("{input} should parse: {e}"));
            assert_eq!(url.transport, *transport, "{input}");
            assert_eq!(url.host, *host, "{input}");
            assert_eq!(url.port, *port, "{input}");
            assert_eq!(url.path, *path, "{input}");
            assert!(url.transport.is_websocket());
            assert_eq!(url.transport.is_tls(), *transport == Transport::Wss);
        }
        // `new` gives WebSockets the default path and TCP none.
        assert_eq!(BrokerUrl::new(Transport::Wss, "h", 443).path, "/mqtt");
        assert_eq!(BrokerUrl::new(Transport::Tcp, "h", 1883).path, "");
        assert!(Transport::Tls.is_tls() && !Transport::Tls.is_websocket());
        assert!(!Transport::Tcp.is_tls() && !Transport::Ws.is_tls());
    }

    #[test]
    fn websocket_urls_display_with_their_path_and_round_trip() {
        for input in [
            "ws://broker.example:80/mqtt",
            "wss://broker.example:443/mqtt",
            "ws://[::1]:8080/",
            "wss://h:8884/a/b%20c?x=1",
        ] {
            let url: BrokerUrl = input.parse().expect("parses");
            assert_eq!(url.to_string(), input);
            assert_eq!(
                url.to_string().parse::<BrokerUrl>().expect("round trip"),
                url
            );
        }
        let bare: BrokerUrl = "wss://h".parse().expect("parses");
        assert_eq!(bare.to_string(), "wss://h:443/mqtt");
    }

    #[test]
    fn parsing_is_total_on_garbage() {
        // Every prefix and every one-byte change of some URLs: a result, never a panic, and
        // an accepted URL always round-trips through its display form.
        let seeds = [
            "wss://user@[fe80::1]:8884/a/b%20c?x=1#f",
            "mqtts://broker.example:8883/",
            "ws://h:1?%",
        ];
        let replacements = [
            '%', '/', '[', ']', ':', '@', '?', '#', '\u{e9}', ' ', '\0', '0',
        ];
        for seed in seeds {
            let chars: Vec<char> = seed.chars().collect();
            for end in 0..=chars.len() {
                let prefix: String = chars[..end].iter().collect();
                check_total(&prefix);
                for at in 0..end {
                    for r in replacements {
                        let mut changed = chars[..end].to_vec();
                        changed[at] = r;
                        check_total(&changed.iter().collect::<String>());
                    }
                }
            }
        }
        check_total(&format!("ws://h/{}", "a".repeat(5000)));
    }

    fn check_total(input: &str) {
        if let Ok(url) = input.parse::<BrokerUrl>() {
            let again: BrokerUrl = url
                .to_string()
                .parse()
                .unwrap_or_else(|e| panic!("{input:?} -> {url} does not parse again: {e}"));
            assert_eq!(again, url, "{input:?}");
        }
    }
}
