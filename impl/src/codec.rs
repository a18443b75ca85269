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

/// Bytes of a seal: the CRC-32 of what it covers.
pub const SEAL: usize = 4;

/// `frame` behind its CRC-32, so that a datagram damaged on the way is refused even where the
/// damage leaves it decodable (one digit of an LSN or an epoch changed).
pub fn seal(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEAL + frame.len());
    out.extend_from_slice(&crate::crc::crc32(frame).to_le_bytes());
    out.extend_from_slice(frame);
    out
}

/// What a seal covers, if it is intact.
pub fn unseal(bytes: &[u8]) -> Result<&[u8], String> {
    let Some((crc, frame)) = bytes.split_first_chunk::<SEAL>() else {
        return Err(format!(
            "datagram of {} bytes is shorter than its seal",
            bytes.len()
        ));
    };
    if u32::from_le_bytes(*crc) != crate::crc::crc32(frame) {
        return Err("the seal does not match: the datagram was damaged".into());
    }
    Ok(frame)
}

/// Encode a message as one sealed datagram.
pub fn encode_sealed<T: serde::Serialize>(msg: &T) -> Vec<u8> {
    seal(&encode(msg))
}

/// Parse a sealed datagram.
pub fn parse_sealed<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    parse(unseal(bytes)?)
}

/// `bytes` damaged so that they may still decode: the first ASCII digit changed to another
/// (the damage a seal must catch), or, with no digit, the last byte flipped. Empty bytes stay
/// empty.
pub fn damage_a_digit(bytes: &mut [u8]) {
    if let Some(b) = bytes.iter_mut().find(|b| b.is_ascii_digit()) {
        *b = if *b == b'9' { b'1' } else { *b + 1 };
    } else if let Some(b) = bytes.last_mut() {
        *b ^= 0x01;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_refuses_damage_that_still_decodes() {
        let msg: Vec<u64> = vec![17, 4];
        let mut d = encode_sealed(&msg);
        assert_eq!(parse_sealed::<Vec<u64>>(&d), Ok(msg));
        damage_a_digit(&mut d[SEAL..]);
        assert_eq!(
            parse::<Vec<u64>>(&d[SEAL..]),
            Ok(vec![27, 4]),
            "still decodes"
        );
        assert!(
            parse_sealed::<Vec<u64>>(&d)
                .unwrap_err()
                .contains("damaged")
        );
        assert!(parse_sealed::<Vec<u64>>(&d[..3]).is_err());
        assert!(parse_sealed::<Vec<u64>>(&[]).is_err());
    }
}
