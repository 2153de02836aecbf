//! Timeline view tests
