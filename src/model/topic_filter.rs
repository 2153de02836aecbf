//! The raw view's topic filter: an MQTT filter when it has `+` or `#`, else a case-insensitive substring.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicFilter {
    All,
    /// MQTT filter levels, e.g. `a2a/v1/mcp/tools/+/call` or `$a2a/#`.
    Mqtt(Vec<String>),
    /// Lower-cased needle.
    Substring(String),
}

impl TopicFilter {
    pub fn parse(text: &str) -> TopicFilter {
        let text = text.trim();
        if text.is_empty() || text == "#" {
            return TopicFilter::All;
        }
        if text.contains('+') || text.contains('#') {
            TopicFilter::Mqtt(text.split('/').map(str::to_owned).collect())
        } else {
            TopicFilter::Substring(text.to_lowercase())
        }
    }

    pub fn matches(&self, topic: &str) -> bool {
        match self {
            TopicFilter::All => true,
            TopicFilter::Substring(needle) => contains_ignore_ascii_case(topic, needle),
            TopicFilter::Mqtt(levels) => mqtt_match(levels, topic),
        }
    }
}

fn contains_ignore_ascii_case(haystack: &str, needle_lower: &str) -> bool {
    if needle_lower.is_ascii() {
        let n = needle_lower.as_bytes();
        haystack
            .as_bytes()
            .windows(n.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(n))
    } else {
        haystack.to_lowercase().contains(needle_lower)
    }
}

/// MQTT 5 §4.7 matching, including the rule that a leading wildcard does not match `$` topics.
fn mqtt_match(filter: &[String], topic: &str) -> bool {
    let first_is_wild = filter
        .first()
        .is_some_and(|f| f.as_str() == "+" || f.as_str() == "#");
    if first_is_wild && topic.starts_with('$') {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for (i, level) in filter.iter().enumerate() {
        match level.as_str() {
            "#" => return i == filter.len() - 1,
            "+" => {
                if topic_levels.next().is_none() {
                    return false;
                }
            }
            exact => match topic_levels.next() {
                Some(t) if t == exact => {}
                _ => return false,
            },
        }
    }
    topic_levels.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_wildcards_and_substrings() {
        let f = TopicFilter::parse("a2a/v1/mcp/tools/+/call");
        assert!(f.matches("a2a/v1/mcp/tools/echo/call"));
        assert!(!f.matches("a2a/v1/mcp/tools/echo/card"));
        assert!(!f.matches("a2a/v1/mcp/tools/echo/call/x"));
        let f = TopicFilter::parse("a2a/#");
        assert!(f.matches("a2a"));
        assert!(f.matches("a2a/v1/x"));
        let f = TopicFilter::parse("+/v1/#");
        assert!(!f.matches("$a2a/v1/discovery/x"));
        assert!(TopicFilter::parse("$a2a/#").matches("$a2a/v1/discovery/x"));
        let f = TopicFilter::parse("Discovery");
        assert!(f.matches("$a2a/v1/discovery/peers/lab/echo"));
        assert!(!f.matches("openmas/x"));
        assert!(TopicFilter::parse("  ").matches("anything"));
        assert!(TopicFilter::parse("ü").matches("aÜb"));
    }
}
