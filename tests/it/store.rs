//! The live pipeline (broker -> session -> ingest -> store) under a burst larger than the store's caps.

use std::time::{Duration, Instant};

use meshscope::ingest::{self, SharedModel};
use meshscope::model::{ModelConfig, StoreLimits};
use meshscope::mqtt::{self, SessionOptions};
use rumqttc::v5::mqttbytes::QoS;

use crate::support::{self, PlainClient, WAIT};

/// Polls the shared model until `done` holds or the deadline passes (the model has no waiters).
fn wait_model(
    model: &SharedModel,
    deadline: Duration,
    mut done: impl FnMut(&meshscope::model::Model) -> bool,
) -> bool {
    let until = Instant::now() + deadline;
    while Instant::now() < until {
        if done(&model.lock()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done(&model.lock())
}

#[test]
fn store_caps_hold_under_a_burst_and_evictions_are_counted() {
    let runtime = support::runtime();
    let broker = runtime.block_on(support::embedded_broker());
    let port = broker.local_addr().port();
    let cap_messages = 1_000;
    let model = SharedModel::new(ModelConfig {
        store: StoreLimits {
            max_messages: cap_messages,
            max_bytes: 400 * 1024,
        },
        ..ModelConfig::default()
    });
    let (events, receiver) = ingest::channel();
    runtime.spawn(ingest::run(model.clone(), receiver, None));
    let options = SessionOptions::new(format!("mqtt://127.0.0.1:{port}").parse().unwrap());
    let _session = mqtt::spawn(runtime.handle(), options, events);
    assert!(
        wait_model(&model, WAIT, |m| m
            .session
            .connected_since_nanos()
            .is_some()),
        "observer connected"
    );

    let burst = 5_000u64;
    let topic = support::unique("burst");
    runtime.block_on(async {
        let mut publisher = PlainClient::connect(port, &support::unique("pub")).await;
        for i in 0..burst {
            let payload = format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(100));
            publisher
                .publish(
                    &format!("{topic}/{}", i % 7),
                    payload,
                    QoS::AtLeastOnce,
                    false,
                    None,
                )
                .await;
        }
        publisher.disconnect().await;
    });
    assert!(
        wait_model(&model, Duration::from_secs(30), |m| m.messages_total
            >= burst),
        "every message of the burst reached the model (got {})",
        model.lock().messages_total
    );
    let m = model.lock();
    let counters = m.store.counters();
    assert!(
        counters.stored_messages <= cap_messages,
        "count cap holds: {counters:?}"
    );
    assert!(
        counters.stored_bytes <= 400 * 1024,
        "byte cap holds: {counters:?}"
    );
    assert_eq!(
        counters.stored_messages as u64 + counters.evicted_messages,
        m.messages_total,
        "every message is either stored or counted as evicted"
    );
    assert!(counters.evicted_messages >= burst - cap_messages as u64);
    // The newest survive, the oldest went first.
    let newest = m.store.iter().next_back().expect("store not empty");
    assert!(
        newest
            .raw
            .payload_str()
            .unwrap_or("")
            .contains(&format!("\"n\":{}", burst - 1))
    );
    drop(m);
    runtime.block_on(broker.shutdown());
}
