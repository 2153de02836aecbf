//! Transports and TLS in words: certificate problems explained (mosquitto, certificates made by openssl), username and password over TLS, `ws://` and `wss://` (embedded broker).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use meshscope::broker::EmbeddedBroker;
use meshscope::mqtt::{
    self, BrokerUrl, OutgoingPublish, SessionCommand, SessionHandle, SessionOptions,
};
use meshscope::protocol::{ConnectionState, SessionEvent};
use rumqttc::v5::mqttbytes::QoS;
use tokio::sync::mpsc;

use crate::support::{self, PlainClient, TestPki, WAIT};

// ---------------------------------------------------------------------------------------------
// helpers

/// Starts an observer session on the current runtime.
fn spawn_session(
    url: &str,
    adjust: impl FnOnce(&mut SessionOptions),
) -> (SessionHandle, mpsc::Receiver<SessionEvent>) {
    let url: BrokerUrl = url.parse().expect("broker url");
    let mut options = SessionOptions::new(url);
    adjust(&mut options);
    let (tx, rx) = mpsc::channel(1024);
    (
        mqtt::spawn(&tokio::runtime::Handle::current(), options, tx),
        rx,
    )
}

/// The reason of the first `Disconnected` state (the first failed attempt), or a panic.
async fn first_failure(events: &mut mpsc::Receiver<SessionEvent>, context: &str) -> String {
    let event = support::next_matching(events, WAIT, |e| {
        matches!(
            e,
            SessionEvent::State {
                state: ConnectionState::Disconnected { .. } | ConnectionState::Connected { .. },
                ..
            }
        )
    })
    .await;
    match event {
        Some(SessionEvent::State {
            state: ConnectionState::Disconnected { reason, .. },
            ..
        }) => {
            eprintln!("{context}: {reason}");
            reason
        }
        other => panic!("expected a failed connection attempt ({context}), got {other:?}"),
    }
}

fn assert_contains(text: &str, expected: &[&str]) {
    for part in expected {
        assert!(text.contains(part), "`{text}` should contain `{part}`");
    }
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes files in `dir` readable by a mosquitto that dropped root.
fn world_readable(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o644));
        }
        #[cfg(not(unix))]
        let _ = entry;
    }
}

/// A CA of our own in `pki.dir/<name>/` (`ca.pem`, `ca.key`), for certificates nobody trusts.
fn other_ca(pki: &TestPki, name: &str, subject: &str) -> (PathBuf, PathBuf) {
    let dir = pki.dir.join(name);
    std::fs::create_dir_all(&dir).expect("ca dir");
    run(
        &dir,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            subject,
        ],
    );
    world_readable(&dir);
    (dir.join("ca.pem"), dir.join("ca.key"))
}

/// What a certificate [`issue`] makes should be.
struct CertSpec<'a> {
    /// File stem in `pki.dir`.
    stem: &'a str,
    subject: &'a str,
    /// `extendedKeyUsage` and `subjectAltName` lines.
    extensions: &'a str,
    /// `openssl ca` validity: `YYYYMMDDHHMMSSZ` start and end, or `None` for "now, 2 days".
    dates: Option<(&'a str, &'a str)>,
}

/// A certificate signed by `ca` with `openssl ca` (which, unlike `openssl x509` in OpenSSL 3.0,
/// takes any start and end date): returns (certificate, key) paths.
fn issue(pki: &TestPki, ca: (&Path, &Path), spec: &CertSpec<'_>) -> (PathBuf, PathBuf) {
    let db = pki.dir.join(format!("{}-db", spec.stem));
    std::fs::create_dir_all(&db).expect("db dir");
    std::fs::write(db.join("index.txt"), "").expect("index");
    std::fs::write(db.join("serial"), "1000\n").expect("serial");
    let config = format!(
        "[ca]\ndefault_ca = test_ca\n\
         [test_ca]\ndatabase = {db}/index.txt\nnew_certs_dir = {db}\ncertificate = {ca_cert}\n\
         private_key = {ca_key}\nserial = {db}/serial\ndefault_md = sha256\npolicy = any\n\
         unique_subject = no\ndefault_days = 2\n\
         [any]\ncommonName = supplied\n",
        db = db.display(),
        ca_cert = ca.0.display(),
        ca_key = ca.1.display(),
    );
    std::fs::write(db.join("ca.cnf"), config).expect("ca config");
    std::fs::write(
        db.join("ext"),
        format!("basicConstraints=CA:FALSE\n{}\n", spec.extensions),
    )
    .expect("ext");
    let key = format!("{}.key", spec.stem);
    let csr = format!("{}.csr", spec.stem);
    let pem = format!("{}.pem", spec.stem);
    run(
        &pki.dir,
        "openssl",
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            spec.subject,
        ],
    );
    let config_path = db.join("ca.cnf").display().to_string();
    let ext_path = db.join("ext").display().to_string();
    let mut args = vec![
        "ca",
        "-batch",
        "-notext",
        "-config",
        &config_path,
        "-in",
        &csr,
        "-out",
        &pem,
        "-extfile",
        &ext_path,
    ];
    if let Some((start, end)) = spec.dates {
        args.extend(["-startdate", start, "-enddate", end]);
    }
    run(&pki.dir, "openssl", &args);
    world_readable(&pki.dir);
    (pki.dir.join(pem), pki.dir.join(key))
}

/// A certificate's notAfter as Meshscope shows it (`2026-11-25 14:53:11 UTC`), read with
/// `openssl x509 -enddate` (an independent reader).
fn not_after_shown(cert: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-enddate", "-in"])
        .arg(cert)
        .output()
        .expect("run openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    // notAfter=Nov 25 14:53:11 2026 GMT
    let fields: Vec<&str> = text
        .trim()
        .trim_start_matches("notAfter=")
        .split_whitespace()
        .collect();
    let [month, day, time, year, "GMT"] = fields[..] else {
        panic!("unexpected openssl date: {text}");
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)
    .expect("month")
        + 1;
    let day: u32 = day.parse().expect("day");
    format!("{year}-{month:02}-{day:02} {time} UTC")
}

/// mosquitto TLS listener lines for a server certificate.
fn tls_conf(ca: &Path, cert: &Path, key: &Path, require_client_cert: bool) -> String {
    format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {require_client_cert}\n",
        ca.display(),
        cert.display(),
        key.display()
    )
}

/// Publishes through `session` and waits until it comes back (the observer sees all topics).
async fn round_trip(
    session: &SessionHandle,
    events: &mut mpsc::Receiver<SessionEvent>,
    topic: &str,
) {
    session
        .send(SessionCommand::Publish(OutgoingPublish {
            topic: topic.into(),
            payload: b"through the transport".to_vec(),
            qos: 1,
            ..OutgoingPublish::default()
        }))
        .await
        .expect("publish");
    let echoed = support::next_on_topic(events, WAIT, topic)
        .await
        .unwrap_or_else(|| panic!("the observer sees {topic}"));
    assert_eq!(&*echoed.payload, b"through the transport");
}

// ---------------------------------------------------------------------------------------------
// certificate problems, explained (mosquitto)

#[test]
fn an_untrusted_server_certificate_is_explained_with_its_subject_and_expiry_mosquitto() {
    let Some(pki) = support::test_pki() else {
        return;
    };
    let Some(mosquitto) = support::mosquitto_with(&pki.mosquitto_conf(false), &[]) else {
        return;
    };
    let (unrelated_ca, _) = other_ca(&pki, "unrelated", "/CN=meshscope unrelated CA");
    let expiry = not_after_shown(&pki.server_cert);
    let url = format!("mqtts://127.0.0.1:{}", mosquitto.port());
    support::runtime().block_on(async {
        // Trusting another CA: the issuer is named as not trusted, with the certificate.
        let (_session, mut events) = spawn_session(&url, |o| o.ca_file = Some(unrelated_ca));
        let reason = first_failure(&mut events, "unknown CA").await;
        assert_contains(
            &reason,
            &[
                "unknown CA",
                "its issuer \"CN=meshscope test CA\" is not trusted",
                "subject \"CN=meshscope test server\"",
                "for localhost, 127.0.0.1",
                &format!("until {expiry}"),
            ],
        );

        // Trusting a different CA of the same name (a regenerated CA, an old CA file).
        let namesake = support::test_pki().expect("openssl is there");
        let (_session, mut events) =
            spawn_session(&url, |o| o.ca_file = Some(namesake.ca_cert.clone()));
        let reason = first_failure(&mut events, "namesake CA").await;
        assert_contains(
            &reason,
            &[
                "names \"CN=meshscope test CA\" as its issuer",
                "the trusted CA of that name did not sign it",
                "subject \"CN=meshscope test server\"",
                &format!("until {expiry}"),
            ],
        );
    });
}

/// A self-signed server certificate made as people make them: `openssl req -x509`, either
/// with CA:FALSE (a self-signed leaf) or with the default CA:TRUE (refused as a server
/// certificate even when trusted).
fn self_signed(pki: &TestPki, stem: &str, leaf: bool) -> (PathBuf, PathBuf) {
    let key = format!("{stem}.key");
    let pem = format!("{stem}.pem");
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &pem,
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ];
    if leaf {
        args.extend(["-addext", "basicConstraints=critical,CA:FALSE"]);
    }
    run(&pki.dir, "openssl", &args);
    world_readable(&pki.dir);
    (pki.dir.join(pem), pki.dir.join(key))
}

#[test]
fn a_self_signed_server_certificate_is_called_self_signed_mosquitto() {
    let Some(pki) = support::test_pki() else {
        return;
    };
    for leaf in [true, false] {
        let (cert, key) = self_signed(&pki, if leaf { "selfleaf" } else { "selfca" }, leaf);
        let Some(mosquitto) =
            support::mosquitto_with(&tls_conf(&pki.ca_cert, &cert, &key, false), &[])
        else {
            return;
        };
        let expiry = not_after_shown(&cert);
        let url = format!("mqtts://localhost:{}", mosquitto.port());
        support::runtime().block_on(async {
            let (_session, mut events) =
                spawn_session(&url, |o| o.ca_file = Some(pki.ca_cert.clone()));
            let reason = first_failure(&mut events, "self-signed").await;
            let problem = if leaf {
                vec!["is self-signed", "unknown CA", "not trusted"]
            } else {
                vec!["is a CA certificate", "self-signed ones", "signed by a CA"]
            };
            assert_contains(&reason, &problem);
            assert_contains(
                &reason,
                &[
                    "subject \"CN=localhost\" (self-signed)",
                    "for localhost, 127.0.0.1",
                    &format!("until {expiry}"),
                ],
            );
        });
    }
}

#[test]
fn a_certificate_for_other_names_says_which_names_it_is_for_mosquitto() {
    let Some(pki) = support::test_pki() else {
        return;
    };
    let (cert, key) = issue(
        &pki,
        (&pki.ca_cert, &pki.dir.join("ca.key")),
        &CertSpec {
            stem: "othername",
            subject: "/CN=broker.example",
            extensions: "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:broker.example,DNS:mqtt.example",
            dates: None,
        },
    );
    let Some(mosquitto) = support::mosquitto_with(&tls_conf(&pki.ca_cert, &cert, &key, false), &[])
    else {
        return;
    };
    let expiry = not_after_shown(&cert);
    let url = format!("mqtts://127.0.0.1:{}", mosquitto.port());
    support::runtime().block_on(async {
        let (_session, mut events) = spawn_session(&url, |o| o.ca_file = Some(pki.ca_cert.clone()));
        let reason = first_failure(&mut events, "wrong host name").await;
        assert_contains(
            &reason,
            &[
                "not valid for the host name 127.0.0.1",
                "it is for broker.example, mqtt.example",
                "subject \"CN=broker.example\"",
                "issuer \"CN=meshscope test CA\"",
                &format!("until {expiry}"),
            ],
        );
    });
}

#[test]
fn an_expired_or_not_yet_valid_certificate_says_when_mosquitto() {
    let Some(pki) = support::test_pki() else {
        return;
    };
    let ca = (pki.ca_cert.as_path(), pki.dir.join("ca.key"));
    let cases = [
        (
            "expired",
            ("20190101000000Z", "20200101000000Z"),
            vec![
                "has expired: it was valid until 2020-01-01 00:00:00 UTC",
                "subject \"CN=meshscope expired server\"",
                "valid from 2019-01-01 00:00:00 UTC until 2020-01-01 00:00:00 UTC",
            ],
        ),
        (
            "future",
            ("20990101000000Z", "21000101000000Z"),
            vec![
                "not valid yet: it is valid from 2099-01-01 00:00:00 UTC",
                "check this computer's clock",
                "subject \"CN=meshscope future server\"",
                "until 2100-01-01 00:00:00 UTC",
            ],
        ),
    ];
    for (stem, dates, expected) in cases {
        let subject = format!("/CN=meshscope {stem} server");
        let (cert, key) = issue(
            &pki,
            (ca.0, &ca.1),
            &CertSpec {
                stem,
                subject: &subject,
                extensions: "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1",
                dates: Some(dates),
            },
        );
        let Some(mosquitto) =
            support::mosquitto_with(&tls_conf(&pki.ca_cert, &cert, &key, false), &[])
        else {
            return;
        };
        let url = format!("mqtts://127.0.0.1:{}", mosquitto.port());
        support::runtime().block_on(async {
            let (_session, mut events) =
                spawn_session(&url, |o| o.ca_file = Some(pki.ca_cert.clone()));
            let reason = first_failure(&mut events, stem).await;
            assert_contains(&reason, &expected);
        });
    }
}

#[test]
fn a_client_certificate_the_broker_does_not_trust_is_reported_mosquitto() {
    let Some(pki) = support::test_pki() else {
        return;
    };
    let Some(mosquitto) = support::mosquitto_with(&pki.mosquitto_conf(true), &[]) else {
        return;
    };
    let (stranger_ca, stranger_ca_key) = other_ca(&pki, "stranger", "/CN=meshscope stranger CA");
    let (client_cert, client_key) = issue(
        &pki,
        (&stranger_ca, &stranger_ca_key),
        &CertSpec {
            stem: "stranger-client",
            subject: "/CN=meshscope stranger client",
            extensions: "extendedKeyUsage=clientAuth",
            dates: None,
        },
    );
    let url = format!("mqtts://127.0.0.1:{}", mosquitto.port());
    support::runtime().block_on(async {
        let (_session, mut events) = spawn_session(&url, |o| {
            o.ca_file = Some(pki.ca_cert.clone());
            o.client_cert = Some(client_cert);
            o.client_key = Some(client_key);
        });
        let reason = first_failure(&mut events, "client certificate refused").await;
        assert_contains(&reason, &["refused our client certificate"]);
    });
}

// ---------------------------------------------------------------------------------------------
// username and password over TLS (mosquitto)

#[test]
fn username_and_password_over_tls_mosquitto() {
    let Some(pki) = support::test_pki() else {
        return;
    };
    let password = "correct horse battery staple";
    run(
        &pki.dir,
        "mosquitto_passwd",
        &["-c", "-b", "passwd", "meshscope-user", password],
    );
    world_readable(&pki.dir);
    let conf = format!(
        "{}allow_anonymous false\npassword_file {}\n",
        pki.mosquitto_conf(false),
        pki.dir.join("passwd").display()
    );
    let Some(mosquitto) = support::mosquitto_with(&conf, &[]) else {
        return;
    };
    let url = format!("mqtts://localhost:{}", mosquitto.port());
    support::runtime().block_on(async {
        // The right password: connected, and messages flow.
        let (session, mut events) = spawn_session(&url, |o| {
            o.ca_file = Some(pki.ca_cert.clone());
            o.username = Some("meshscope-user".into());
            o.password = Some(password.into());
        });
        support::wait_connected(&mut events, WAIT)
            .await
            .unwrap_or_else(|| panic!("connects with the password; log:\n{}", mosquitto.log()));
        round_trip(
            &session,
            &mut events,
            &support::unique("meshscope/tls-auth"),
        )
        .await;
        session
            .send(SessionCommand::Disconnect)
            .await
            .expect("stop");

        // A wrong password: refused, in words, and the password is not echoed.
        let (_session, mut events) = spawn_session(&url, |o| {
            o.ca_file = Some(pki.ca_cert.clone());
            o.username = Some("meshscope-user".into());
            o.password = Some("wrong-password-123".into());
        });
        let reason = first_failure(&mut events, "wrong password").await;
        assert_contains(&reason, &["not authorised", "username and password"]);
        assert!(!reason.contains("wrong-password-123"), "{reason}");

        // No credentials at all: refused too.
        let (_session, mut events) = spawn_session(&url, |o| o.ca_file = Some(pki.ca_cert.clone()));
        let reason = first_failure(&mut events, "no credentials").await;
        assert_contains(&reason, &["not authorised"]);
    });
}

// ---------------------------------------------------------------------------------------------
// WebSockets (the embedded broker: Debian's mosquitto 2.0.11 is built without websockets)

/// The embedded broker with a plain TCP listener (for the publisher) and a WebSocket
/// listener on `/mqtt`, over TLS with `pki`'s server certificate when given. Returns the broker
/// and the WebSocket port.
async fn websocket_broker(pki: Option<&TestPki>) -> (EmbeddedBroker, u16) {
    let ws_port = support::free_port();
    let ws_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, ws_port));
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let tls = pki.map(|pki| (pki.server_cert.clone(), pki.server_key.clone()));
    let broker = EmbeddedBroker::start_with(bind, move |config| {
        use mqtt5::broker::config::{TlsConfig, WebSocketConfig};
        let websocket = WebSocketConfig::new()
            .with_bind_addresses(vec![ws_addr])
            .with_path("/mqtt");
        match tls {
            None => config.with_websocket(websocket),
            Some((cert, key)) => config
                .with_tls(TlsConfig::new(cert, key).with_bind_addresses(vec![bind]))
                .with_websocket_tls(websocket.with_tls(true)),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("start the embedded broker with a WebSocket listener: {e:#}"));
    (broker, ws_port)
}

/// A retained message published before the observer connects arrives (so the observer's
/// subscriptions are in place), then a live one.
async fn observer_sees_messages(
    broker: &EmbeddedBroker,
    events: &mut mpsc::Receiver<SessionEvent>,
) {
    let topic = support::unique("meshscope/ws");
    let mut publisher =
        PlainClient::connect(broker.local_addr().port(), &support::unique("ws-publisher")).await;
    publisher
        .publish(
            &topic,
            "retained, sent before",
            QoS::AtLeastOnce,
            true,
            None,
        )
        .await;
    let retained = support::next_on_topic(events, WAIT, &topic)
        .await
        .expect("the retained message arrives over the WebSocket");
    assert_eq!(&*retained.payload, b"retained, sent before");
    publisher
        .publish(&topic, "live", QoS::AtLeastOnce, false, None)
        .await;
    let live = support::next_message(events, WAIT, |m| {
        &*m.topic == topic.as_bytes() && &*m.payload == b"live"
    })
    .await
    .expect("a live message arrives over the WebSocket");
    assert!(!live.retain);
    publisher.disconnect().await;
}

#[test]
fn a_ws_observer_connects_and_sees_published_messages() {
    let runtime = support::runtime();
    runtime.block_on(async {
        let (broker, ws_port) = websocket_broker(None).await;
        let (_session, mut events) =
            spawn_session(&format!("ws://127.0.0.1:{ws_port}/mqtt"), |_| {});
        support::wait_connected(&mut events, WAIT)
            .await
            .expect("the ws:// session connects");
        observer_sees_messages(&broker, &mut events).await;

        // A path the broker does not serve: said so.
        let (_session, mut events) =
            spawn_session(&format!("ws://127.0.0.1:{ws_port}/nothing-here"), |_| {});
        let reason = first_failure(&mut events, "wrong path").await;
        assert_contains(&reason, &["no WebSocket endpoint at this path", "404"]);

        // A plain MQTT port is not a WebSocket server: said so.
        let tcp_port = broker.local_addr().port();
        let (_session, mut events) = spawn_session(&format!("ws://127.0.0.1:{tcp_port}"), |_| {});
        let reason = first_failure(&mut events, "not a WebSocket port").await;
        assert_contains(
            &reason,
            &["did not answer as a WebSocket server", "mqtt://"],
        );
        broker.shutdown().await;
    });
}

#[test]
fn a_wss_observer_verifies_the_server_like_mqtts() {
    let Some(pki) = support::test_pki() else {
        return;
    };
    let runtime = support::runtime();
    runtime.block_on(async {
        let (broker, ws_port) = websocket_broker(Some(&pki)).await;
        let url = format!("wss://localhost:{ws_port}/mqtt");

        // With the CA file: connected, messages flow.
        let (_session, mut events) = spawn_session(&url, |o| o.ca_file = Some(pki.ca_cert.clone()));
        support::wait_connected(&mut events, WAIT)
            .await
            .expect("the wss:// session connects with the CA file");
        observer_sees_messages(&broker, &mut events).await;

        // Without it (system roots): refused and explained, as for mqtts://.
        let (_session, mut events) = spawn_session(&url, |_| {});
        let reason = first_failure(&mut events, "wss unknown CA").await;
        assert_contains(
            &reason,
            &["unknown CA", "subject \"CN=meshscope test server\""],
        );
        broker.shutdown().await;
    });
}
