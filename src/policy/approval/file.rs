//! The approval file: statement bytes followed by the armored SSH signature
//! that `ssh-keygen -Y sign` writes, so `cat statement statement.sig` is a
//! valid approval file.

use thiserror::Error;

use super::statement::{Statement, StatementError};

/// Largest approval file accepted, in bytes.
pub const MAX_FILE_SIZE: usize = 64 * 1024;

/// Line that starts the signature block.
pub const BEGIN_LINE: &str = "-----BEGIN SSH SIGNATURE-----";

/// Line that ends the signature block.
pub const END_LINE: &str = "-----END SSH SIGNATURE-----";

/// Why an approval file could not be split into statement and signature.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileError {
    /// The file is larger than [`MAX_FILE_SIZE`].
    #[error("file is {0} bytes, more than the {MAX_FILE_SIZE} allowed")]
    TooLarge(usize),
    /// The file is not UTF-8.
    #[error("file is not valid UTF-8")]
    NotUtf8,
    /// No `-----BEGIN SSH SIGNATURE-----` line.
    #[error("no SSH signature block (a line {BEGIN_LINE:?})")]
    MissingSignature,
    /// The signature block is not closed.
    #[error("SSH signature block has no {END_LINE:?} line")]
    UnterminatedSignature,
    /// Something other than whitespace follows the signature block.
    #[error("unexpected content after the SSH signature block")]
    TrailingGarbage,
    /// The statement part is malformed.
    #[error("statement: {0}")]
    Statement(#[from] StatementError),
}

/// A split and parsed approval file. The signature is not verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalFile {
    /// The exact statement bytes, final newline included: what was signed.
    pub statement_text: String,
    /// The parsed statement.
    pub statement: Statement,
    /// The signature block, from the `BEGIN` line to the `END` line and its
    /// newline.
    pub signature_pem: String,
}

/// Split an approval file into statement and signature and parse the
/// statement.
pub fn parse_approval_file(bytes: &[u8]) -> Result<ApprovalFile, FileError> {
    if bytes.len() > MAX_FILE_SIZE {
        return Err(FileError::TooLarge(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| FileError::NotUtf8)?;

    let begin = line_start_of(text, BEGIN_LINE).ok_or(FileError::MissingSignature)?;
    let (statement_text, signature) = text.split_at(begin);
    let end = line_start_of(signature, END_LINE).ok_or(FileError::UnterminatedSignature)?;
    let after_end = end + END_LINE.len();
    let (block, trailer) = signature.split_at(after_end);
    if !trailer.trim().is_empty() {
        return Err(FileError::TrailingGarbage);
    }

    let statement = Statement::parse(statement_text)?;
    Ok(ApprovalFile {
        statement_text: statement_text.to_owned(),
        statement,
        signature_pem: format!("{block}\n"),
    })
}

/// Join statement text and signature block into an approval file.
pub fn assemble(statement_text: &str, signature_pem: &str) -> String {
    let mut out = String::with_capacity(statement_text.len() + signature_pem.len() + 1);
    out.push_str(statement_text);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(signature_pem);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Byte offset of the first line that is exactly `line` (followed by `\n`
/// or the end of the text).
fn line_start_of(text: &str, line: &str) -> Option<usize> {
    let mut offset = 0;
    for candidate in text.split_inclusive('\n') {
        let content = candidate.strip_suffix('\n').unwrap_or(candidate);
        if content == line {
            return Some(offset);
        }
        offset += candidate.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATEMENT: &str = "autonomy-approval v1\n\
approval = \"0123456789abcdef0123456789abcdef\"\n\
workspace = \"ws-1\"\n\
plan = \"aaaaaaaaaaaabbbbbbbbbbbbccccccccccccddddddddddddeeeeeeeeeeee0000\"\n\
approver = \"alice@example.com\"\n\
decision = \"approve\"\n\
created = \"2026-11-23T10:00:00Z\"\n\
expires = \"2026-11-24T10:00:00Z\"\n";

    const SIG: &str = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n";

    #[test]
    fn splits_statement_and_signature() {
        let file = assemble(STATEMENT, SIG);
        assert_eq!(file, format!("{STATEMENT}{SIG}"));
        let parsed = parse_approval_file(file.as_bytes()).expect("parses");
        assert_eq!(parsed.statement_text, STATEMENT);
        assert_eq!(parsed.signature_pem, SIG);
        assert_eq!(parsed.statement.render(), STATEMENT);
    }

    #[test]
    fn trailing_whitespace_is_fine() {
        for tail in ["", "\n", "\n\n", "\n  \n\t\n"] {
            let file = format!("{STATEMENT}{}{tail}", SIG.trim_end());
            let parsed = parse_approval_file(file.as_bytes()).expect(tail);
            assert_eq!(parsed.signature_pem, SIG);
        }
    }

    #[test]
    fn assemble_adds_missing_newlines() {
        assert_eq!(
            assemble(STATEMENT, SIG.trim_end()),
            format!("{STATEMENT}{SIG}")
        );
    }

    #[test]
    fn refusals() {
        let big = format!("{STATEMENT}{SIG}{}", " ".repeat(MAX_FILE_SIZE));
        let cases: Vec<(Vec<u8>, FileError)> = vec![
            (big.clone().into_bytes(), FileError::TooLarge(big.len())),
            (b"\xff\xfe".to_vec(), FileError::NotUtf8),
            (STATEMENT.as_bytes().to_vec(), FileError::MissingSignature),
            (
                format!("{STATEMENT} {SIG}").into_bytes(),
                FileError::MissingSignature,
            ),
            (
                format!("{STATEMENT}-----BEGIN SSH SIGNATURE-----\nU1NI\n").into_bytes(),
                FileError::UnterminatedSignature,
            ),
            (
                format!("{STATEMENT}{SIG}x\n").into_bytes(),
                FileError::TrailingGarbage,
            ),
            (
                format!("{STATEMENT}{SIG}{SIG}").into_bytes(),
                FileError::TrailingGarbage,
            ),
            (
                format!("{}-----END SSH SIGNATURE-----x\n", &SIG[..40]).into_bytes(),
                FileError::UnterminatedSignature,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(parse_approval_file(&bytes), Err(want));
        }
        let err = parse_approval_file(format!("x{STATEMENT}{SIG}").as_bytes()).expect_err("x");
        assert!(matches!(err, FileError::Statement(_)), "{err:?}");
        let err = parse_approval_file(format!("{STATEMENT}\n{SIG}").as_bytes()).expect_err("nl");
        assert!(matches!(err, FileError::Statement(_)), "{err:?}");
    }
}
