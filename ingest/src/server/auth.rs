//! Who is calling: bearer tokens from a `token,cluster` file, and the cluster a request's
//! events belong to.

use std::path::Path;

use subtle::ConstantTimeEq;

/// Longest cluster name (a DNS subdomain's limit).
const MAX_CLUSTER_NAME: usize = 253;

/// The cluster of a token that may send the events of any cluster, named by `?cluster=`.
pub const ANY_CLUSTER: &str = "*";

/// Bearer tokens and the cluster each one stands for (or [`ANY_CLUSTER`]).
#[derive(Debug, Clone, Default)]
pub struct TokenMap(Vec<(Vec<u8>, String)>);

/// A tokens file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokensFileError {
    #[error("cannot read tokens file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("tokens file {path} line {line}: {message}")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
}

impl TokenMap {
    /// Parses `token,cluster` lines; blank lines and `#` comments are skipped. A cluster of `*`
    /// lets the token send any cluster's events, named by `?cluster=`.
    pub fn parse(text: &str, path: &str) -> Result<TokenMap, TokensFileError> {
        let mut tokens = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let invalid = |message: String| TokensFileError::Invalid {
                path: path.to_string(),
                line: index + 1,
                message,
            };
            let Some((token, cluster)) = line.split_once(',') else {
                return Err(invalid("expected `token,cluster`".into()));
            };
            let (token, cluster) = (token.trim(), cluster.trim());
            if token.is_empty() {
                return Err(invalid("empty token".into()));
            }
            if cluster != ANY_CLUSTER {
                validate_cluster(cluster).map_err(invalid)?;
            }
            tokens.push((token.as_bytes().to_vec(), cluster.to_string()));
        }
        if tokens.is_empty() {
            return Err(TokensFileError::Invalid {
                path: path.to_string(),
                line: 0,
                message: "no tokens".into(),
            });
        }
        Ok(TokenMap(tokens))
    }

    pub fn load(path: &Path) -> Result<TokenMap, TokensFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokensFileError::Read {
            path: shown.clone(),
            source,
        })?;
        TokenMap::parse(&text, &shown)
    }

    /// The cluster of `token`, comparing every entry in constant time.
    pub fn cluster_of(&self, token: &str) -> Option<&str> {
        let mut found = None;
        for (known, cluster) in &self.0 {
            if bool::from(known.as_slice().ct_eq(token.as_bytes())) {
                found = Some(cluster.as_str());
            }
        }
        found
    }
}

/// A cluster name becomes a directory name: letters, digits, `.`, `_`, `-`, starting with a
/// letter or digit, at most 253 characters.
pub fn validate_cluster(name: &str) -> Result<(), String> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if name.len() > MAX_CLUSTER_NAME || !valid_chars || !starts_well {
        return Err(format!(
            "invalid cluster name `{name}`: use letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most {MAX_CLUSTER_NAME} characters"
        ));
    }
    Ok(())
}

/// The bearer token of an `Authorization` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_file_is_parsed_and_looked_up() {
        let map = TokenMap::parse("# apiservers\ns3cret,prod-eu\n\nother , dev\n", "t").unwrap();
        assert_eq!(map.cluster_of("s3cret"), Some("prod-eu"));
        assert_eq!(map.cluster_of("other"), Some("dev"));
        assert_eq!(map.cluster_of("s3cre"), None);
        assert_eq!(map.cluster_of(""), None);
    }

    #[test]
    fn bad_tokens_files_name_the_line() {
        let error = TokenMap::parse("a,ok\nnocomma\n", "tokens.csv").unwrap_err();
        assert_eq!(
            error.to_string(),
            "tokens file tokens.csv line 2: expected `token,cluster`"
        );
        let error = TokenMap::parse("a,../etc\n", "t").unwrap_err();
        assert!(
            error.to_string().contains("invalid cluster name `../etc`"),
            "{error}"
        );
        assert!(TokenMap::parse("# nothing\n", "t").is_err());
    }

    #[test]
    fn cluster_names_cannot_escape_the_store() {
        for bad in ["", "..", ".", "a/b", "-x", "a b", &"x".repeat(254)] {
            assert!(validate_cluster(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["default", "prod-eu-1", "k8s.example.com", "a_b"] {
            assert!(validate_cluster(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }
}
