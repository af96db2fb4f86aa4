//! Built-in services.
