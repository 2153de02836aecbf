//! Local checks on topics, filters and strings before they go on the wire (a malformed packet makes brokers drop the connection).

/// MQTT strings are length-prefixed with two bytes.
const MAX_STRING_BYTES: usize = 65_535;

/// A topic name we may publish to: not empty, no wildcards, no NUL, fits an MQTT string.
pub(crate) fn check_topic(topic: &str, what: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if topic.contains(['+', '#']) {
        return Err(format!(
            "the {what} `{topic}` contains a wildcard (`+` or `#`); wildcards only belong in subscriptions"
        ));
    }
    check_string(topic, what)
}

/// A subscription filter the observer may use. Shared subscriptions are refused: joining a
/// group would take messages away from the group's real members.
pub(crate) fn check_filter(filter: &str) -> Result<(), String> {
    if filter.is_empty() {
        return Err("the filter is empty".into());
    }
    check_string(filter, "filter")?;
    let first_level = filter.split('/').next().unwrap_or(filter);
    if first_level.eq_ignore_ascii_case("$share") || first_level.eq_ignore_ascii_case("$queue") {
        return Err(format!(
            "`{filter}` is a shared subscription; an observer never joins a share group (it would take messages from the group's members) — subscribe to the plain topic instead"
        ));
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (index, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || index + 1 != levels.len()) {
            return Err(format!(
                "malformed filter `{filter}`: `#` must be a whole level and the last one"
            ));
        }
        if level.contains('+') && *level != "+" {
            return Err(format!(
                "malformed filter `{filter}`: `+` must be a whole level"
            ));
        }
    }
    Ok(())
}

/// Any MQTT UTF-8 string field: no NUL (brokers treat it as a malformed packet), fits the
/// two-byte length prefix.
pub(crate) fn check_string(value: &str, what: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!("the {what} contains a NUL character"));
    }
    if value.len() > MAX_STRING_BYTES {
        return Err(format!(
            "the {what} is {} bytes; MQTT allows at most {MAX_STRING_BYTES}",
            value.len()
        ));
    }
    Ok(())
}

/// Binary fields (correlation data) have the same two-byte length prefix.
pub(crate) fn check_binary(value: &[u8], what: &str) -> Result<(), String> {
    if value.len() > MAX_STRING_BYTES {
        return Err(format!(
            "the {what} is {} bytes; MQTT allows at most {MAX_STRING_BYTES}",
            value.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        for ok in [
            "#",
            "+",
            "a/b",
            "a/+/c",
            "a/#",
            "$a2a/#",
            "$mcp-rpc/#",
            "+/+/#",
            "a//b",
            "/",
        ] {
            assert!(check_filter(ok).is_ok(), "{ok}");
        }
        for (bad, words) in [
            ("", "empty"),
            ("a/#/b", "`#` must be"),
            ("a#", "`#` must be"),
            ("a/b+", "`+` must be"),
            ("$share/g/a/#", "shared subscription"),
            ("$queue/a", "shared subscription"),
            ("a\0b", "NUL"),
        ] {
            let error = check_filter(bad).expect_err(bad);
            assert!(error.contains(words), "{bad}: {error}");
        }
        assert!(check_filter(&"a".repeat(70_000)).is_err());
    }

    #[test]
    fn topics() {
        assert!(check_topic("a/b", "topic").is_ok());
        assert!(check_topic("$a2a/v1/x", "topic").is_ok());
        assert!(check_topic("", "topic").is_err());
        assert!(check_topic("a/+", "topic").is_err());
        assert!(check_topic("a/#", "topic").is_err());
        assert!(check_topic("a\0", "topic").is_err());
    }
}
