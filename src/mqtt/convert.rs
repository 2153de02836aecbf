//! rumqttc packets to and from Meshscope's types (`RawMessage`, `Properties`, `ConnackInfo`), and reason codes in words.

use std::sync::Arc;

use rumqttc::v5::mqttbytes::v5::{
    ConnAck, ConnectReturnCode, DisconnectReasonCode, PubAckReason, PubCompReason, PubRecReason,
    Publish, PublishProperties, SubscribeReasonCode,
};

use crate::protocol::{ConnackInfo, Properties, RawMessage};

/// One received PUBLISH as a `RawMessage`, stamped with `received_at_nanos` (taken by the
/// caller where the packet left the event loop). Every property is kept, in order.
pub(crate) fn raw_message(publish: &Publish, received_at_nanos: u64) -> RawMessage {
    RawMessage {
        received_at_nanos,
        topic: publish.topic.to_vec().into_boxed_slice(),
        payload: Arc::from(&publish.payload[..]),
        qos: publish.qos as u8,
        retain: publish.retain,
        dup: publish.dup,
        properties: publish
            .properties
            .as_ref()
            .map(properties_from_wire)
            .filter(|p| !p.is_empty())
            .map(Box::new),
    }
}

/// Incoming PUBLISH properties. The topic alias is a transport detail (already resolved) and
/// is not kept.
pub(crate) fn properties_from_wire(props: &PublishProperties) -> Properties {
    Properties {
        payload_format_indicator: props.payload_format_indicator,
        message_expiry_interval_secs: props.message_expiry_interval,
        content_type: props.content_type.clone(),
        response_topic: props.response_topic.clone(),
        correlation_data: props.correlation_data.as_ref().map(|b| b.to_vec()),
        user_properties: props.user_properties.clone(),
        subscription_identifiers: props.subscription_identifiers.clone(),
    }
}

/// Outgoing PUBLISH properties (`None` when there are none). Subscription identifiers are
/// dropped: a client must not send them on PUBLISH.
pub(crate) fn properties_to_wire(props: &Properties) -> Option<PublishProperties> {
    let wire = PublishProperties {
        payload_format_indicator: props.payload_format_indicator,
        message_expiry_interval: props.message_expiry_interval_secs,
        topic_alias: None,
        response_topic: props.response_topic.clone(),
        correlation_data: props.correlation_data.clone().map(bytes::Bytes::from),
        user_properties: props.user_properties.clone(),
        subscription_identifiers: Vec::new(),
        content_type: props.content_type.clone(),
    };
    (wire != PublishProperties::default()).then_some(wire)
}

/// What the broker granted in its CONNACK.
pub(crate) fn connack_info(connack: &ConnAck) -> ConnackInfo {
    let mut info = ConnackInfo {
        session_present: connack.session_present,
        ..ConnackInfo::default()
    };
    if let Some(p) = &connack.properties {
        info.assigned_client_id = p.assigned_client_identifier.clone();
        info.max_qos = p.max_qos;
        info.retain_available = p.retain_available.map(|v| v != 0);
        info.max_packet_size = p.max_packet_size;
        info.topic_alias_max = p.topic_alias_max;
        info.wildcard_subscription_available = p.wildcard_subscription_available.map(|v| v != 0);
        info.shared_subscription_available = p.shared_subscription_available.map(|v| v != 0);
        info.subscription_identifiers_available =
            p.subscription_identifiers_available.map(|v| v != 0);
        info.server_keep_alive_secs = p.server_keep_alive;
        info.response_information = p.response_information.clone();
        info.user_properties = p.user_properties.clone();
    }
    info
}

pub(crate) fn connect_refusal_words(code: &ConnectReturnCode) -> String {
    use ConnectReturnCode as C;
    let words = match code {
        C::Success => "accepted",
        C::RefusedProtocolVersion | C::UnsupportedProtocolVersion => {
            "the broker does not speak MQTT 5"
        }
        C::BadClientId | C::ClientIdentifierNotValid => {
            "the client id is not valid for this broker (the embedded broker refuses ids containing `/`)"
        }
        C::ServiceUnavailable | C::ServerUnavailable => "the broker is unavailable",
        C::BadUserNamePassword => "bad username or password",
        C::NotAuthorized => "not authorized",
        C::ServerBusy => "the broker is busy",
        C::Banned => "this client is banned",
        C::BadAuthenticationMethod => "bad authentication method",
        C::QuotaExceeded => "quota exceeded",
        C::ConnectionRateExceeded => "connecting too often",
        C::UseAnotherServer | C::ServerMoved => "the broker points to another server",
        C::PacketTooLarge => "the CONNECT packet was too large",
        other => return format!("the broker refused the connection ({other:?})"),
    };
    format!("the broker refused the connection: {words}")
}

pub(crate) fn disconnect_words(code: DisconnectReasonCode, reason: Option<&str>) -> String {
    use DisconnectReasonCode as D;
    let words = match code {
        D::NormalDisconnection => "normal disconnection",
        D::ServerShuttingDown => "the broker is shutting down",
        D::SessionTakenOver => "another client connected with our client id",
        D::KeepAliveTimeout => "keep-alive timeout",
        D::NotAuthorized => "not authorized",
        D::PacketTooLarge => "a packet we sent was too large",
        D::MessageRateTooHigh => "we sent too fast",
        D::QuotaExceeded => "quota exceeded",
        D::AdministrativeAction => "an administrator disconnected us",
        D::ProtocolError => "protocol error",
        D::MalformedPacket => "the broker found a malformed packet",
        D::ServerBusy => "the broker is busy",
        D::UseAnotherServer | D::ServerMoved => "the broker points to another server",
        D::MaximumConnectTime => "maximum connect time reached",
        _ => "",
    };
    let words = if words.is_empty() {
        format!("{code:?}")
    } else {
        words.to_string()
    };
    match reason {
        Some(reason) if !reason.is_empty() => {
            format!("the broker disconnected us: {words} ({reason})")
        }
        _ => format!("the broker disconnected us: {words}"),
    }
}

/// `Err(words)` for a refused subscription.
pub(crate) fn subscribe_result(code: &SubscribeReasonCode) -> Result<u8, String> {
    use SubscribeReasonCode as S;
    Err(match code {
        S::Success(qos) => return Ok(*qos as u8),
        S::Failure | S::Unspecified => "refused by the broker (unspecified error)",
        S::ImplementationSpecific => "refused by the broker (implementation-specific error)",
        S::NotAuthorized => "not authorized by the broker",
        S::TopicFilterInvalid => "the broker says the filter is invalid",
        S::PkidInUse => "packet identifier in use",
        S::QuotaExceeded => "the broker's subscription quota is exceeded",
        S::SharedSubscriptionsNotSupported => "the broker does not support shared subscriptions",
        S::SubscriptionIdNotSupported => "the broker does not support subscription identifiers",
        S::WildcardSubscriptionsNotSupported => "the broker does not support wildcard filters",
    }
    .to_string())
}

pub(crate) fn puback_result(reason: &PubAckReason) -> Result<(), String> {
    match reason {
        PubAckReason::Success | PubAckReason::NoMatchingSubscribers => Ok(()),
        other => Err(format!("the broker refused the message ({other:?})")),
    }
}

pub(crate) fn pubrec_result(reason: &PubRecReason) -> Result<(), String> {
    match reason {
        PubRecReason::Success | PubRecReason::NoMatchingSubscribers => Ok(()),
        other => Err(format!("the broker refused the message ({other:?})")),
    }
}

pub(crate) fn pubcomp_result(reason: &PubCompReason) -> Result<(), String> {
    match reason {
        PubCompReason::Success => Ok(()),
        other => Err(format!(
            "the broker did not complete the delivery ({other:?})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rumqttc::v5::mqttbytes::QoS;

    #[test]
    fn every_property_survives_in_order() {
        let wire = PublishProperties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(300),
            topic_alias: None,
            response_topic: Some("reply/here".into()),
            correlation_data: Some(Bytes::from_static(&[0xff, 0x00, b'a'])),
            user_properties: vec![
                ("k".into(), "1".into()),
                ("other".into(), "x".into()),
                ("k".into(), "2".into()),
            ],
            subscription_identifiers: vec![7],
            content_type: Some("application/json".into()),
        };
        let mut publish = Publish::new("t/\u{e9}", QoS::AtLeastOnce, "payload", Some(wire.clone()));
        publish.retain = true;
        publish.topic = Bytes::from_static(b"bad/\xff/topic");
        let raw = raw_message(&publish, 42);
        assert_eq!(raw.received_at_nanos, 42);
        assert_eq!(&*raw.topic, b"bad/\xff/topic");
        assert_eq!(&*raw.payload, b"payload");
        assert_eq!((raw.qos, raw.retain, raw.dup), (1, true, false));
        let props = raw.props();
        assert_eq!(
            props.correlation_data.as_deref(),
            Some(&[0xff, 0x00, b'a'][..])
        );
        assert_eq!(props.user_properties, wire.user_properties);
        assert_eq!(props.subscription_identifiers, vec![7]);
        // And back (minus the subscription identifier, which a client must not send).
        let back = properties_to_wire(props).expect("some");
        assert_eq!(back.subscription_identifiers, Vec::<usize>::new());
        assert_eq!(back.user_properties, wire.user_properties);
        assert_eq!(back.correlation_data, wire.correlation_data);
    }

    #[test]
    fn no_properties_means_none() {
        let publish = Publish::new("t", QoS::AtMostOnce, "", Some(PublishProperties::default()));
        assert!(raw_message(&publish, 0).properties.is_none());
        let publish = Publish::new("t", QoS::AtMostOnce, "", None);
        assert!(raw_message(&publish, 0).properties.is_none());
        assert!(properties_to_wire(&Properties::default()).is_none());
    }
}
