//! The `mosquitto_pub` command that reproduces an observed request, quoted for a POSIX shell (pure).
//!
//! Every argument is single-quoted unless it is plainly safe, so nothing from the wire is
//! expanded by the shell. What `mosquitto_pub` cannot send (NUL bytes in an argument, a
//! non-UTF-8 topic) is said in the notes instead of being silently altered.

use crate::protocol::RawMessage;

/// Payloads sent inline with `-m` up to this size; larger or binary ones go through a file.
pub const INLINE_PAYLOAD_LIMIT_BYTES: usize = 64 * 1024;

/// User properties a broker adds to what it forwards (not the sender's; left out).
const BROKER_ADDED_USER_PROPERTIES: [&str; 1] = ["x-mqtt-client-id"];

/// Where the observer was connected (from the session state's broker URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerTarget {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl Default for BrokerTarget {
    fn default() -> Self {
        BrokerTarget {
            host: "localhost".into(),
            port: 1883,
            tls: false,
        }
    }
}

impl BrokerTarget {
    /// Reads `mqtt://host:port`, `mqtts://[::1]:8883` or `host:port`; `None` when it is not one.
    pub fn parse(url: &str) -> Option<BrokerTarget> {
        let url = url.trim();
        let (tls, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (matches!(scheme, "mqtts" | "ssl" | "tls"), rest),
            None => (false, url),
        };
        let rest = rest.split('/').next().unwrap_or(rest);
        // Credentials never belong in a command someone pastes into a chat.
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None => default_port,
            };
            (host.to_owned(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), port.parse().ok()?),
                None => (rest.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return None;
        }
        Some(BrokerTarget { host, port, tls })
    }
}

/// The command text and what the user should know about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReproCommand {
    pub text: String,
    pub notes: Vec<String>,
    /// The payload is passed with `-f` from this file (save it first).
    pub payload_file: Option<String>,
}

/// Quotes one argument for a POSIX shell: plain words stay as they are, anything else is
/// single-quoted with embedded `'` written as `'\''`.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b'/' | b':' | b',' | b'+' | b'@' | b'%'
                )
        })
        && !arg.starts_with('-');
    if plain {
        return arg.to_owned();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('\'');
    for ch in arg.chars() {
        if ch == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    out
}

/// Arbitrary bytes (no NUL, no trailing newline) as a shell word: `"$(printf '\ooo...')"`.
fn printf_word(bytes: &[u8]) -> String {
    let mut format = String::with_capacity(bytes.len() * 4);
    for b in bytes {
        format.push_str(&format!("\\{b:03o}"));
    }
    format!("\"$(printf '{format}')\"")
}

/// The file name `-f` reads (the app's "Save payload…" suggests the same name in `$HOME`).
pub fn payload_file_name(seq: u64) -> String {
    format!("meshscope-payload-{seq}.bin")
}

/// `mosquitto_pub` with the request's topic, QoS, retain flag, MQTT 5 properties and payload.
pub fn mosquitto_pub_command(raw: &RawMessage, seq: u64, broker: &BrokerTarget) -> ReproCommand {
    let mut notes = Vec::new();
    let mut args: Vec<String> = vec!["mosquitto_pub".into()];
    let mut push = |parts: &[String]| args.push(parts.join(" "));
    push(&[
        "-h".into(),
        shell_quote(&broker.host),
        "-p".into(),
        broker.port.to_string(),
        "-V".into(),
        "mqttv5".into(),
    ]);
    if broker.tls {
        notes.push(
            "TLS broker: add --cafile or --capath (and a client certificate if it asks for one)."
                .into(),
        );
    }
    notes.push(
        "Add -u and -P if the broker wants credentials (Meshscope never puts them in a command)."
            .into(),
    );
    let topic = match raw.topic_str() {
        Some(t) => t.to_owned(),
        None => {
            notes.push("The topic is not valid UTF-8: MQTT cannot publish it as observed; the escaped form is shown.".into());
            raw.topic_lossy().into_owned()
        }
    };
    let mut head = vec!["-t".to_owned(), shell_quote(&topic)];
    if raw.qos > 0 {
        head.push("-q".into());
        head.push(raw.qos.min(2).to_string());
    }
    if raw.retain {
        head.push("-r".into());
    }
    push(&head);
    let props = raw.props();
    let mut nul_warned = false;
    let mut control_warned = false;
    let mut text_prop = |name: &str, value: &str, notes: &mut Vec<String>| -> Option<String> {
        if value.contains('\0') {
            if !nul_warned {
                notes.push(format!(
                    "The {name} holds a NUL character, which no shell argument can carry: left out."
                ));
                nul_warned = true;
            }
            return None;
        }
        if value.chars().any(char::is_control) && !control_warned {
            notes.push(format!("The {name} holds control characters (newline, tab, ...): some brokers (mosquitto) refuse them as malformed UTF-8."));
            control_warned = true;
        }
        Some(shell_quote(value))
    };
    if let Some(rt) = props.response_topic.as_deref()
        && let Some(q) = text_prop("response topic", rt, &mut notes)
    {
        push(&["-D publish response-topic".into(), q]);
    }
    if let Some(corr) = props.correlation_data.as_deref() {
        let word = match std::str::from_utf8(corr) {
            Ok(text) if !text.contains('\0') => Some(shell_quote(text)),
            _ if corr.contains(&0) || corr.last() == Some(&b'\n') => None,
            _ => Some(printf_word(corr)),
        };
        match word {
            Some(w) => push(&["-D publish correlation-data".into(), w]),
            None => notes.push(
                "The Correlation Data holds a NUL byte (or ends in a newline): mosquitto_pub cannot send it exactly, so it is left out and the reply will not pair.".into(),
            ),
        }
    }
    if let Some(ct) = props.content_type.as_deref()
        && let Some(q) = text_prop("content type", ct, &mut notes)
    {
        push(&["-D publish content-type".into(), q]);
    }
    if let Some(pfi) = props.payload_format_indicator {
        push(&[
            "-D publish payload-format-indicator".into(),
            pfi.to_string(),
        ]);
    }
    if let Some(expiry) = props.message_expiry_interval_secs {
        push(&[
            "-D publish message-expiry-interval".into(),
            expiry.to_string(),
        ]);
    }
    for (key, value) in &props.user_properties {
        if BROKER_ADDED_USER_PROPERTIES.contains(&key.as_str()) {
            notes.push(format!("User property {key} left out: the broker adds it."));
            continue;
        }
        if let (Some(k), Some(v)) = (
            text_prop("user property", key, &mut notes),
            text_prop("user property", value, &mut notes),
        ) {
            push(&["-D publish user-property".into(), k, v]);
        }
    }
    let mut payload_file = None;
    if raw.payload.is_empty() {
        push(&["-n".into()]);
    } else {
        match std::str::from_utf8(&raw.payload) {
            Ok(text) if !text.contains('\0') && raw.payload.len() <= INLINE_PAYLOAD_LIMIT_BYTES => {
                push(&["-m".into(), shell_quote(text)]);
            }
            _ => {
                let file = payload_file_name(seq);
                notes.push(format!(
                    "The payload is binary or larger than {} KiB: save it first (Save payload) as {file} in the directory you run this from.",
                    INLINE_PAYLOAD_LIMIT_BYTES / 1024
                ));
                push(&["-f".into(), shell_quote(&file)]);
                payload_file = Some(file);
            }
        }
    }
    if props.response_topic.is_some() {
        notes.push("The reply goes to the original Response Topic (its requester may see an unexpected answer).".into());
    }
    ReproCommand {
        text: args.join(" \\\n  "),
        notes,
        payload_file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Properties;

    /// Runs `script` in /bin/sh with `mosquitto_pub` replaced by a function printing its argv.
    fn argv_of(command: &str) -> Vec<String> {
        let script = format!(
            "mosquitto_pub() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}\n{command}\n"
        );
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .output()
            .expect("run /bin/sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    }

    #[test]
    fn quoting_survives_a_real_shell() {
        for hostile in [
            "it's",
            "$(touch /tmp/meshscope-pwned)",
            "`id`",
            "a b\tc\nd",
            "\"double\" \\back",
            "-rf",
            "*",
            "~user",
            "ünïcødé ✓",
            "'",
            "",
        ] {
            let quoted = shell_quote(hostile);
            let argv = argv_of(&format!("mosquitto_pub {quoted} end"));
            let expected: Vec<String> = if hostile.is_empty() {
                vec!["end".into()]
            } else {
                vec![hostile.into(), "end".into()]
            };
            assert_eq!(argv, expected, "{hostile:?} quoted as {quoted}");
        }
        assert!(!std::path::Path::new("/tmp/meshscope-pwned").exists());
        assert_eq!(
            shell_quote("a2a/v1/mcp/tools/echo/call"),
            "a2a/v1/mcp/tools/echo/call"
        );
    }

    #[test]
    fn command_carries_the_mqtt5_properties() {
        let mut raw = RawMessage::new(
            0,
            "$a2a/v1/request/peers/lab/planner",
            br#"{"text":"it's $HOME"}"#.to_vec(),
        );
        raw.qos = 1;
        raw.properties = Some(Box::new(Properties {
            response_topic: Some("$a2a/v1/reply/peers/lab/orch/d286".into()),
            correlation_data: Some(b"corr-planner-1".to_vec()),
            content_type: Some("application/json".into()),
            user_properties: vec![
                ("a2a-method".into(), "SendMessage".into()),
                ("k".into(), "v with 'quote'".into()),
                ("x-mqtt-client-id".into(), "orch".into()),
            ],
            message_expiry_interval_secs: Some(30),
            ..Properties::default()
        }));
        let broker = BrokerTarget::parse("mqtt://user:pw@127.0.0.1:41883").unwrap();
        assert_eq!(
            broker,
            BrokerTarget {
                host: "127.0.0.1".into(),
                port: 41883,
                tls: false
            }
        );
        let cmd = mosquitto_pub_command(&raw, 7, &broker);
        assert!(!cmd.text.contains("pw"), "no credentials in the command");
        let argv = argv_of(&cmd.text);
        let expected: Vec<&str> = vec![
            "-h",
            "127.0.0.1",
            "-p",
            "41883",
            "-V",
            "mqttv5",
            "-t",
            "$a2a/v1/request/peers/lab/planner",
            "-q",
            "1",
            "-D",
            "publish",
            "response-topic",
            "$a2a/v1/reply/peers/lab/orch/d286",
            "-D",
            "publish",
            "correlation-data",
            "corr-planner-1",
            "-D",
            "publish",
            "content-type",
            "application/json",
            "-D",
            "publish",
            "message-expiry-interval",
            "30",
            "-D",
            "publish",
            "user-property",
            "a2a-method",
            "SendMessage",
            "-D",
            "publish",
            "user-property",
            "k",
            "v with 'quote'",
            "-m",
            r#"{"text":"it's $HOME"}"#,
        ];
        assert_eq!(argv, expected);
        assert!(cmd.notes.iter().any(|n| n.contains("x-mqtt-client-id")));
        assert_eq!(cmd.payload_file, None);
    }

    #[test]
    fn binary_parts_go_through_printf_or_a_file() {
        let mut raw = RawMessage::new(0, "rpc/calc", vec![0u8, 159, 146, 150]);
        raw.properties = Some(Box::new(Properties {
            response_topic: Some("replies/x".into()),
            correlation_data: Some(vec![0xde, 0xad, 0xbe, 0xef]),
            ..Properties::default()
        }));
        let cmd = mosquitto_pub_command(&raw, 42, &BrokerTarget::default());
        assert_eq!(
            cmd.payload_file.as_deref(),
            Some("meshscope-payload-42.bin")
        );
        let argv = argv_of(&cmd.text);
        let corr = argv
            .iter()
            .position(|a| a == "correlation-data")
            .map(|i| i + 1)
            .unwrap();
        // The printf word yields the raw bytes; compare them through the shell's own output.
        let script = format!("printf '%s' {}", printf_word(&[0xde, 0xad, 0xbe, 0xef]));
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert_eq!(out.stdout, vec![0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(
            argv[corr],
            String::from_utf8_lossy(&[0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(
            argv.last().map(String::as_str),
            Some("meshscope-payload-42.bin")
        );

        raw.properties = Some(Box::new(Properties {
            correlation_data: Some(vec![1, 0, 2]),
            ..Properties::default()
        }));
        let cmd = mosquitto_pub_command(&raw, 1, &BrokerTarget::default());
        assert!(!cmd.text.contains("correlation-data"));
        assert!(cmd.notes.iter().any(|n| n.contains("NUL")));
        raw.payload = Vec::new().into();
        assert!(
            mosquitto_pub_command(&raw, 1, &BrokerTarget::default())
                .text
                .ends_with("-n")
        );
    }

    #[test]
    fn broker_urls() {
        assert_eq!(
            BrokerTarget::parse("mqtts://[::1]:8884"),
            Some(BrokerTarget {
                host: "::1".into(),
                port: 8884,
                tls: true
            })
        );
        assert_eq!(
            BrokerTarget::parse("broker.local"),
            Some(BrokerTarget {
                host: "broker.local".into(),
                port: 1883,
                tls: false
            })
        );
        assert_eq!(BrokerTarget::parse("mqtt://:1883"), None);
        assert_eq!(BrokerTarget::parse("mqtt://h:notaport"), None);
    }
}
