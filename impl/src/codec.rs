//! The datagram codec every protocol's wire messages share: serde JSON, bounded in size, so a
//! garbage, truncated or oversized datagram is an error with a reason, never a panic or an
//! unbounded allocation. Each protocol's `wire` module adds its own range checks.

/// The largest datagram a node accepts (a bound on everything it allocates for one).
pub const DATAGRAM_BYTES_MAX: usize = 8 * 1024;

/// Encode a message as one datagram.
pub fn encode<T: serde::Serialize>(msg: &T) -> Vec<u8> {
    serde_json::to_vec(msg).expect("messages always serialize")
}

/// Parse bytes of a bounded size as JSON of type `T`.
pub fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if bytes.len() > DATAGRAM_BYTES_MAX {
        return Err(format!("datagram of {} bytes is too long", bytes.len()));
    }
    serde_json::from_slice(bytes).map_err(|e| format!("undecodable: {e}"))
}
