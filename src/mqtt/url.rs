//! Broker URLs: `mqtt://host:port`, `mqtts://host:port`, `tcp://...`, or bare `host:port`.

use std::fmt;
use std::str::FromStr;

/// How the session reaches the broker. WebSocket transports (`ws://`, `wss://`) come later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain TCP (`mqtt://`, `tcp://`), default port 1883.
    Tcp,
    /// TLS over TCP (`mqtts://`, `ssl://`, `tls://`), default port 8883; the server is verified.
    Tls,
}

impl Transport {
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tcp => 1883,
            Transport::Tls => 8883,
        }
    }

    /// The canonical URL scheme.
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Tcp => "mqtt",
            Transport::Tls => "mqtts",
        }
    }
}

/// Where the broker is. `host` is a DNS name or an IP address (IPv6 without brackets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerUrl {
    pub transport: Transport,
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    pub fn new(transport: Transport, host: impl Into<String>, port: u16) -> Self {
        BrokerUrl {
            transport,
            host: host.into(),
            port,
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

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.transport.scheme(), self.host_port())
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
                "it is empty; expected mqtt://host:port or mqtts://host:port",
            ));
        }

        let (transport, rest) = match text.split_once("://") {
            Some((scheme, rest)) => {
                let transport = match scheme.to_ascii_lowercase().as_str() {
                    "mqtt" | "tcp" => Transport::Tcp,
                    "mqtts" | "ssl" | "tls" => Transport::Tls,
                    "ws" | "wss" => {
                        return Err(fail(
                            "WebSocket transports (ws://, wss://) are not supported yet; use mqtt:// or mqtts://",
                        ));
                    }
                    _ => {
                        return Err(fail(&format!(
                            "unknown scheme `{scheme}`; use mqtt:// (TCP) or mqtts:// (TLS)"
                        )));
                    }
                };
                (transport, rest)
            }
            None => (Transport::Tcp, text),
        };

        if rest.contains('@') {
            return Err(fail(
                "credentials do not belong in the URL; use --username and --password-env, or the connection dialog",
            ));
        }
        // A trailing slash is harmless; any other path, query or fragment means something we
        // would silently ignore, so say so.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(fail(
                "a path, query or fragment is not supported; give only host and port",
            ));
        }
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
        })
    }
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
            ("ws://broker:8080", "WebSocket"),
            ("wss://broker", "WebSocket"),
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
            ("wss://user:secret@broker", "WebSocket"),
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
}
