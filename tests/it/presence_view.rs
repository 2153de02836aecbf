//! Presence map view tests
