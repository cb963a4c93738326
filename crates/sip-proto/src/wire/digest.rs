//! HTTP Digest authentication as SIP uses it (RFC 3261 §22.4, RFC 7616, RFC 8760): the
//! `Authorization` credentials read as typed values, the `WWW-Authenticate` challenge written,
//! and the hashes (HA1, the expected response) for MD5 and SHA-256 with `qop=auth`.
//!
//! Pure: never issues or remembers nonces (`sip::digest` does), never knows a password store.

use std::fmt;

use md5::{Digest as _, Md5};

use super::grammar::{auth_params, unquote, SyntaxError};

/// A digest algorithm (RFC 7616 §3.3, RFC 8760 §2.2). The `-sess` variants are not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the default when credentials name none (RFC 7616 §3.4).
    Md5,
    /// `SHA-256`, offered first (RFC 8760 §2.4).
    Sha256,
}

impl Algorithm {
    /// The name as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Reads an algorithm name (case-insensitive); `None` for any other.
    pub fn parse(text: &str) -> Option<Algorithm> {
        [Algorithm::Md5, Algorithm::Sha256]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(text))
    }

    /// The lower-case hex digest of `data`.
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => hex(&Md5::digest(data)),
            Algorithm::Sha256 => hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref()),
        }
    }

    /// HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2), what is stored instead of a
    /// password.
    pub fn ha1(self, username: &str, realm: &str, password: &str) -> String {
        self.hash_hex(format!("{username}:{realm}:{password}").as_bytes())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// `Authorization: Digest …` (RFC 7616 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`, as issued.
    pub nonce: String,
    /// `uri`, the digest-uri.
    pub uri: String,
    /// `response`, lower-case hex.
    pub response: String,
    /// `algorithm` (MD5 when absent); `None` when it names one we do not support.
    pub algorithm: Option<Algorithm>,
    /// `cnonce`.
    pub cnonce: Option<String>,
    /// `qop`.
    pub qop: Option<String>,
    /// `nc`, eight hex digits as sent (the hash covers the text).
    pub nc: Option<String>,
}

impl Credentials {
    /// Reads an Authorization value; other schemes than Digest are an error.
    pub fn parse(text: &str) -> Result<Credentials, SyntaxError> {
        let (scheme, params) = auth_params(text)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(SyntaxError("not Digest credentials"));
        }
        let text = |name: &str| params.value(name).map(unquote);
        let required = |name: &'static str| text(name).ok_or(SyntaxError(name));
        let algorithm = match text("algorithm") {
            None => Some(Algorithm::Md5),
            Some(name) => Algorithm::parse(&name),
        };
        Ok(Credentials {
            username: required("username")?,
            realm: required("realm")?,
            nonce: required("nonce")?,
            uri: required("uri")?,
            response: required("response")?.to_ascii_lowercase(),
            algorithm,
            cnonce: text("cnonce"),
            qop: text("qop"),
            nc: text("nc"),
        })
    }

    /// The nonce count as a number (`nc` is eight hex digits, RFC 7616 §3.4).
    pub fn nonce_count(&self) -> Option<u32> {
        let nc = self.nc.as_deref()?;
        (nc.len() == 8)
            .then(|| u32::from_str_radix(nc, 16).ok())
            .flatten()
    }

    /// The response a client knowing `ha1` computes for `method` with `qop=auth`
    /// (RFC 7616 §3.4.1): H(HA1:nonce:nc:cnonce:qop:H(method:uri)). `None` without qop=auth,
    /// nc, cnonce or a supported algorithm.
    pub fn expected_response(&self, ha1: &str, method: &str) -> Option<String> {
        let algorithm = self.algorithm?;
        if self.qop.as_deref() != Some("auth") {
            return None;
        }
        let (nc, cnonce) = (self.nc.as_deref()?, self.cnonce.as_deref()?);
        let ha2 = algorithm.hash_hex(format!("{method}:{}", self.uri).as_bytes());
        let data = format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce);
        Some(algorithm.hash_hex(data.as_bytes()))
    }
}

/// `WWW-Authenticate: Digest …` (RFC 7616 §3.3), always with `qop="auth"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The protection space.
    pub realm: &'a str,
    /// A fresh nonce.
    pub nonce: &'a str,
    /// The algorithm offered.
    pub algorithm: Algorithm,
    /// The credentials were right but the nonce had expired (RFC 7616 §3.3 `stale`).
    pub stale: bool,
}

impl fmt::Display for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Realm and nonce are ours (the nonce is hex, the realm a checked domain); quotes or
        // backslashes in them would still not end the quoted-string.
        let quoted = |s: &str| s.replace(['"', '\\'], "");
        write!(
            f,
            "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"",
            quoted(self.realm),
            quoted(self.nonce),
            self.algorithm.as_str()
        )?;
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
    fn rfc_7616_example(algorithm: &str, response: &str) -> Credentials {
        Credentials::parse(&format!(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
algorithm={algorithm}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, response=\"{response}\", \
opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        ))
        .unwrap()
    }

    #[test]
    fn rfc_7616_example_values() {
        for (algorithm, response) in [
            (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
            (
                Algorithm::Sha256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let credentials = rfc_7616_example(algorithm.as_str(), response);
            assert_eq!(credentials.algorithm, Some(algorithm));
            assert_eq!(credentials.nonce_count(), Some(1));
            let ha1 = algorithm.ha1("Mufasa", "http-auth@example.org", "Circle of Life");
            assert_eq!(
                credentials.expected_response(&ha1, "GET").as_deref(),
                Some(response),
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn credentials_need_their_parts() {
        assert!(Credentials::parse("Basic YWxhZGRpbjpvcGVuc2VzYW1l").is_err());
        assert!(Credentials::parse("Digest username=\"a\", realm=\"b\"").is_err());
        assert!(Credentials::parse("Digest username=\"a\" realm=\"b\"").is_err());
        assert!(Credentials::parse("Digest username=\"a\", username=\"b\"").is_err());
        let no_algorithm = Credentials::parse(
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"AB\"",
        )
        .unwrap();
        assert_eq!(no_algorithm.algorithm, Some(Algorithm::Md5));
        assert_eq!(no_algorithm.response, "ab");
        assert_eq!(
            no_algorithm.expected_response("h", "SUBSCRIBE"),
            None,
            "no qop"
        );
        let other = rfc_7616_example("SHA-512-256", "00");
        assert_eq!(other.algorithm, None);
    }

    #[test]
    fn challenges_are_written_in_order() {
        let challenge = Challenge {
            realm: "example.test",
            nonce: "abc",
            algorithm: Algorithm::Sha256,
            stale: true,
        };
        assert_eq!(
            challenge.to_string(),
            "Digest realm=\"example.test\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\", stale=true"
        );
    }
}
