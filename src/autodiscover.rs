//! autodiscover (being written).
