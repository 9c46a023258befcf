//! BIRD's control socket, spoken directly (what `birdc` does): the agent enables and disables the
//! protocol that originates the VIP routes, so BGP announces or withdraws them.
//!
//! The protocol is line-based text. On connect BIRD greets with `0001 BIRD <version> ready.`; each
//! command gets reply lines starting with a 4-digit code followed by `-` (more lines follow), ` `
//! (the last line) — or a line starting with a space continues the previous code. Codes 8000 and
//! above are errors (`8xxx` run-time, `9xxx` parse).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A command gets this long to answer (BIRD answers enable/disable at once; a hung BIRD must not
/// hang the agent).
pub const BIRD_REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// Reply lines kept per command at most (`show route` on a full table is not what the agent asks).
pub const BIRD_REPLY_LINES_MAX: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum BirdError {
    #[error("BIRD control socket {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("BIRD refused `{command}`: {code} {text}")]
    Refused { command: String, code: u16, text: String },
    #[error("BIRD answered something that is not its control protocol: {line:?}")]
    Garbled { line: String },
    #[error("BIRD's reply to `{command}` is longer than {BIRD_REPLY_LINES_MAX} lines")]
    TooLong { command: String },
}

/// One reply: the final code and every text line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BirdReply {
    pub code: u16,
    pub lines: Vec<String>,
}

pub struct BirdControl {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    pub version: String,
}

impl BirdControl {
    pub fn connect(path: &Path) -> Result<Self, BirdError> {
        let io = |source| BirdError::Io {
            path: path.to_owned(),
            source,
        };
        let stream = UnixStream::connect(path).map_err(io)?;
        stream.set_read_timeout(Some(BIRD_REPLY_TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(BIRD_REPLY_TIMEOUT)).map_err(io)?;
        let writer = stream.try_clone().map_err(io)?;
        let mut control = BirdControl {
            path: path.to_owned(),
            reader: BufReader::new(stream),
            writer,
            version: String::new(),
        };
        let hello = control.read_reply("<connect>")?;
        control.version = hello.lines.first().cloned().unwrap_or_default();
        Ok(control)
    }

    /// Sends one command and reads its whole reply; an error code is an `Err`.
    pub fn command(&mut self, command: &str) -> Result<BirdReply, BirdError> {
        assert!(!command.contains('\n'), "one command per line");
        self.writer
            .write_all(format!("{command}\n").as_bytes())
            .map_err(|source| BirdError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.read_reply(command)
    }

    /// Originates the routes of `protocol` (a `protocol static` holding the VIPs): BGP announces.
    pub fn enable(&mut self, protocol: &str) -> Result<BirdReply, BirdError> {
        self.command(&format!("enable {protocol}"))
    }

    /// Stops originating them: BGP withdraws at once.
    pub fn disable(&mut self, protocol: &str) -> Result<BirdReply, BirdError> {
        self.command(&format!("disable {protocol}"))
    }

    fn read_reply(&mut self, command: &str) -> Result<BirdReply, BirdError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = self.reader.read_line(&mut line).map_err(|source| BirdError::Io {
                path: self.path.clone(),
                source,
            })?;
            if read == 0 {
                return Err(BirdError::Io {
                    path: self.path.clone(),
                    source: std::io::ErrorKind::UnexpectedEof.into(),
                });
            }
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            if lines.len() >= BIRD_REPLY_LINES_MAX {
                return Err(BirdError::TooLong {
                    command: command.to_owned(),
                });
            }
            if let Some(rest) = line.strip_prefix(' ') {
                lines.push(rest.to_owned());
                continue;
            }
            let (code, separator, text) = parse_line(&line).ok_or_else(|| BirdError::Garbled { line: line.clone() })?;
            lines.push(text.to_owned());
            if separator == ' ' {
                if code >= 8000 {
                    return Err(BirdError::Refused {
                        command: command.to_owned(),
                        code,
                        text: text.to_owned(),
                    });
                }
                return Ok(BirdReply { code, lines });
            }
        }
    }
}

/// `"0009 vip4: disabled"` → (9, ' ', "vip4: disabled").
fn parse_line(line: &str) -> Option<(u16, char, &str)> {
    let digits = line.get(..4)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let separator = line[4..].chars().next()?;
    if separator != ' ' && separator != '-' {
        return None;
    }
    Some((digits.parse().ok()?, separator, &line[5..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines_parse_and_garbage_does_not() {
        assert_eq!(parse_line("0009 vip4: disabled"), Some((9, ' ', "vip4: disabled")));
        assert_eq!(parse_line("1002-device1 Device"), Some((1002, '-', "device1 Device")));
        assert_eq!(parse_line("9001 syntax error"), Some((9001, ' ', "syntax error")));
        for garbage in ["", "000", "abcd text", "0009", "0009xvip", "ü009 x"] {
            assert_eq!(parse_line(garbage), None, "{garbage:?}");
        }
    }
}
