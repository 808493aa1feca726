//! Base64 decoding of header values (the `base64` crate, padding optional): the invoke API's
//! `X-Amz-Client-Context` and the client context cargo-lambda's emulator sends on `/next`.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

const PADDING_OPTIONAL: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, PADDING_OPTIONAL);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, PADDING_OPTIONAL);

/// Decodes RFC 4648 base64 (`+/` alphabet, `=` padding optional); `None` when invalid.
pub(crate) fn decode_standard(text: &[u8]) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

/// Decodes base64 in the standard or the URL-safe (`-_`) alphabet, padding optional; `None` when
/// it is neither.
pub(crate) fn decode_any(text: &[u8]) -> Option<Vec<u8>> {
    STANDARD.decode(text).or_else(|_| URL_SAFE.decode(text)).ok()
}

/// Encodes `data` as RFC 4648 base64 with `+/` and `=` padding (the streamed-response error trailer,
/// the Invoke API's `X-Amz-Log-Result`).
pub(crate) fn encode_standard(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_optional_and_alphabets_are_checked() {
        assert_eq!(decode_standard(b"eyJhIjoxfQ==").as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(decode_standard(b"eyJhIjoxfQ").as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(decode_standard(b"").as_deref(), Some(&b""[..]));
        assert_eq!(decode_standard(b"e$"), None);
        assert_eq!(decode_standard(b"-_8"), None);
        assert_eq!(decode_any(b"-_8").as_deref(), Some(&[0xfb, 0xff][..]));
    }
}
