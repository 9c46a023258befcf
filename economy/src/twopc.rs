//! The two-phase commit coordinator for cross-shard operations, sans-IO: it says which statement to
//! run on which shard next and takes the results; `ops` drives it against the real shards, the unit
//! tests below step it through every failure.
//!
//! Protocol (presumed abort): every participant has run the operation's body in an open
//! transaction; `PREPARE TRANSACTION` on each; when all prepared, the decision `commit` is written
//! to the decision log on the coordinator's shard (autocommit, first writer wins) and only then
//! `COMMIT PREPARED` on each. Any prepare failing → `ROLLBACK PREPARED` on those that prepared. If
//! the decision cannot be written or read, the outcome is in doubt and `recover` settles it: a
//! prepared transaction whose gid has `commit` logged is committed, any other is rolled back (after
//! recovery logs `abort` for it, so a coordinator that comes back late cannot commit it).

/// Every gid we prepare starts with this, so recovery never touches another application's.
pub const GID_PREFIX: &str = "mrdn:";

/// `mrdn:<coordinator shard>:<uuid>`: the coordinator's shard (where the decision lives) is
/// readable from the gid alone, which is all recovery has after a crash.
pub fn new_gid(coordinator_shard: usize) -> String {
    format!("{GID_PREFIX}{coordinator_shard}:{}", uuid::Uuid::new_v4().simple())
}

/// The coordinator's shard named in a gid of ours.
pub fn gid_coordinator(gid: &str) -> Option<usize> {
    gid.strip_prefix(GID_PREFIX)?.split(':').next()?.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Commit,
    Abort,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Commit => "commit",
            Decision::Abort => "abort",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "commit" => Some(Decision::Commit),
            "abort" => Some(Decision::Abort),
            _ => None,
        }
    }
}

/// The next thing to run. The SQL of the prepared-transaction statements cannot take parameters;
/// the gid is ours (`new_gid`: digits, hex and colons), never user input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// On the participant's open transaction.
    Prepare {
        shard: usize,
        sql: String,
    },
    /// `insert … on conflict do nothing` + read back, autocommit, on the coordinator's shard.
    LogDecision {
        shard: usize,
        gid: String,
        decision: Decision,
        participants: Vec<usize>,
    },
    /// On any connection to the shard.
    CommitPrepared {
        shard: usize,
        sql: String,
    },
    RollbackPrepared {
        shard: usize,
        sql: String,
    },
}

impl Command {
    pub fn shard(&self) -> usize {
        match self {
            Command::Prepare { shard, .. }
            | Command::LogDecision { shard, .. }
            | Command::CommitPrepared { shard, .. }
            | Command::RollbackPrepared { shard, .. } => *shard,
        }
    }
}

/// A command's result as the coordinator needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Ok,
    /// The statement failed and certainly did nothing (e.g. PREPARE of an aborted transaction).
    Failed,
    /// The connection broke: the statement may or may not have taken effect.
    Unknown,
    /// For `LogDecision`: the decision on record (ours, or recovery's if it came first).
    Decided(Decision),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Decided commit. `finished`: every participant answered COMMIT PREPARED; otherwise recovery
    /// finishes it (the decision is durable, so the operation counts as committed).
    Committed {
        finished: bool,
    },
    Aborted,
    /// Prepared, decision unknown to us: recovery decides.
    InDoubt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Preparing,
    Deciding,
    Committing,
    Aborting,
    Done(Outcome),
}

#[derive(Debug)]
pub struct Coordinator {
    gid: String,
    participants: Vec<usize>,
    coordinator_shard: usize,
    phase: Phase,
    /// Replies still expected in the current phase, by shard.
    waiting: Vec<usize>,
    /// Participants whose prepare may have taken effect (Ok or Unknown).
    maybe_prepared: Vec<usize>,
    prepare_failed: bool,
    all_finished: bool,
}

impl Coordinator {
    pub fn new(gid: String, participants: Vec<usize>, coordinator_shard: usize) -> Self {
        assert!(participants.len() >= 2, "one participant needs no two-phase commit");
        assert!(participants.contains(&coordinator_shard));
        Self {
            gid,
            participants,
            coordinator_shard,
            phase: Phase::Preparing,
            waiting: Vec::new(),
            maybe_prepared: Vec::new(),
            prepare_failed: false,
            all_finished: true,
        }
    }

    pub fn gid(&self) -> &str {
        &self.gid
    }

    /// The prepares, one per participant. Called once, after every body ran.
    pub fn start(&mut self) -> Vec<Command> {
        assert_eq!(self.phase, Phase::Preparing);
        self.waiting = self.participants.clone();
        let sql = format!("PREPARE TRANSACTION '{}'", self.gid);
        self.participants
            .iter()
            .map(|&shard| Command::Prepare {
                shard,
                sql: sql.clone(),
            })
            .collect()
    }

    /// A participant's body failed before prepare: the caller rolled its open transactions back,
    /// nothing is prepared anywhere.
    pub fn body_failed(&mut self) {
        assert_eq!(self.phase, Phase::Preparing);
        self.phase = Phase::Done(Outcome::Aborted);
    }

    pub fn outcome(&self) -> Option<Outcome> {
        match self.phase {
            Phase::Done(outcome) => Some(outcome),
            _ => None,
        }
    }

    fn take_reply(&mut self, shard: usize) {
        let position = self.waiting.iter().position(|&s| s == shard);
        let position = position.unwrap_or_else(|| panic!("unexpected reply from shard {shard}"));
        self.waiting.swap_remove(position);
    }

    /// Feeds the reply to the command last issued for `shard`; returns the next commands (empty
    /// while other replies of the phase are outstanding, or when done).
    pub fn on_reply(&mut self, shard: usize, reply: Reply) -> Vec<Command> {
        self.take_reply(shard);
        match self.phase {
            Phase::Preparing => {
                match reply {
                    Reply::Ok => self.maybe_prepared.push(shard),
                    Reply::Unknown => {
                        self.maybe_prepared.push(shard);
                        self.prepare_failed = true;
                    }
                    Reply::Failed | Reply::Decided(_) => self.prepare_failed = true,
                }
                if !self.waiting.is_empty() {
                    return Vec::new();
                }
                if self.prepare_failed {
                    self.abort()
                } else {
                    self.phase = Phase::Deciding;
                    self.waiting = vec![self.coordinator_shard];
                    vec![Command::LogDecision {
                        shard: self.coordinator_shard,
                        gid: self.gid.clone(),
                        decision: Decision::Commit,
                        participants: self.participants.clone(),
                    }]
                }
            }
            Phase::Deciding => match reply {
                Reply::Decided(Decision::Commit) => {
                    self.phase = Phase::Committing;
                    self.waiting = self.participants.clone();
                    let sql = format!("COMMIT PREPARED '{}'", self.gid);
                    self.participants
                        .iter()
                        .map(|&shard| Command::CommitPrepared {
                            shard,
                            sql: sql.clone(),
                        })
                        .collect()
                }
                // Recovery decided first.
                Reply::Decided(Decision::Abort) => self.abort(),
                Reply::Ok | Reply::Failed | Reply::Unknown => {
                    self.phase = Phase::Done(Outcome::InDoubt);
                    Vec::new()
                }
            },
            Phase::Committing => {
                if reply != Reply::Ok {
                    self.all_finished = false;
                }
                if self.waiting.is_empty() {
                    self.phase = Phase::Done(Outcome::Committed {
                        finished: self.all_finished,
                    });
                }
                Vec::new()
            }
            Phase::Aborting => {
                if self.waiting.is_empty() {
                    self.phase = Phase::Done(Outcome::Aborted);
                }
                Vec::new()
            }
            Phase::Done(_) => panic!("reply after the end"),
        }
    }

    fn abort(&mut self) -> Vec<Command> {
        if self.maybe_prepared.is_empty() {
            self.phase = Phase::Done(Outcome::Aborted);
            return Vec::new();
        }
        // A rollback that fails leaves a prepared transaction without a commit decision: recovery
        // rolls it back, so the outcome is aborted either way.
        self.phase = Phase::Aborting;
        self.waiting = self.maybe_prepared.clone();
        let sql = format!("ROLLBACK PREPARED '{}'", self.gid);
        self.maybe_prepared
            .iter()
            .map(|&shard| Command::RollbackPrepared {
                shard,
                sql: sql.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coordinator() -> Coordinator {
        Coordinator::new(new_gid(0), vec![0, 1], 0)
    }

    #[test]
    fn gid_names_its_coordinator() {
        let gid = new_gid(7);
        assert!(gid.starts_with(GID_PREFIX));
        assert_eq!(gid_coordinator(&gid), Some(7));
        assert_eq!(gid_coordinator("other:1:x"), None);
    }

    #[test]
    fn happy_path_logs_commit_before_commit_prepared() {
        let mut c = coordinator();
        let prepares = c.start();
        assert_eq!(prepares.len(), 2);
        assert!(
            matches!(&prepares[0], Command::Prepare { sql, .. } if sql.starts_with("PREPARE TRANSACTION 'mrdn:0:"))
        );
        assert!(c.on_reply(1, Reply::Ok).is_empty(), "waits for both prepares");
        let log = c.on_reply(0, Reply::Ok);
        assert_eq!(log.len(), 1);
        assert!(matches!(
            &log[0],
            Command::LogDecision {
                shard: 0,
                decision: Decision::Commit,
                ..
            }
        ));
        let commits = c.on_reply(0, Reply::Decided(Decision::Commit));
        assert_eq!(commits.len(), 2);
        assert!(commits.iter().all(|c| matches!(c, Command::CommitPrepared { .. })));
        assert_eq!(c.outcome(), None);
        c.on_reply(0, Reply::Ok);
        c.on_reply(1, Reply::Ok);
        assert_eq!(c.outcome(), Some(Outcome::Committed { finished: true }));
    }

    #[test]
    fn a_failed_prepare_rolls_back_the_prepared_one_and_logs_nothing() {
        let mut c = coordinator();
        c.start();
        c.on_reply(0, Reply::Ok);
        let next = c.on_reply(1, Reply::Failed);
        assert_eq!(next.len(), 1);
        assert!(matches!(&next[0], Command::RollbackPrepared { shard: 0, .. }));
        c.on_reply(0, Reply::Failed);
        assert_eq!(c.outcome(), Some(Outcome::Aborted));
    }

    #[test]
    fn an_unknown_prepare_is_rolled_back_too() {
        let mut c = coordinator();
        c.start();
        c.on_reply(0, Reply::Unknown);
        let next = c.on_reply(1, Reply::Ok);
        let shards: Vec<usize> = next.iter().map(Command::shard).collect();
        assert_eq!(shards.len(), 2);
        assert!(shards.contains(&0) && shards.contains(&1));
        assert!(next.iter().all(|c| matches!(c, Command::RollbackPrepared { .. })));
        c.on_reply(1, Reply::Ok);
        c.on_reply(0, Reply::Unknown);
        assert_eq!(c.outcome(), Some(Outcome::Aborted));
    }

    #[test]
    fn recovery_deciding_first_aborts_the_late_coordinator() {
        let mut c = coordinator();
        c.start();
        c.on_reply(0, Reply::Ok);
        c.on_reply(1, Reply::Ok);
        let next = c.on_reply(0, Reply::Decided(Decision::Abort));
        assert_eq!(next.len(), 2);
        assert!(next.iter().all(|c| matches!(c, Command::RollbackPrepared { .. })));
        c.on_reply(0, Reply::Ok);
        c.on_reply(1, Reply::Ok);
        assert_eq!(c.outcome(), Some(Outcome::Aborted));
    }

    #[test]
    fn a_lost_decision_write_is_in_doubt_and_commits_nothing() {
        let mut c = coordinator();
        c.start();
        c.on_reply(0, Reply::Ok);
        c.on_reply(1, Reply::Ok);
        assert!(c.on_reply(0, Reply::Unknown).is_empty());
        assert_eq!(c.outcome(), Some(Outcome::InDoubt));
    }

    #[test]
    fn a_failed_commit_prepared_is_still_committed_but_unfinished() {
        let mut c = coordinator();
        c.start();
        c.on_reply(0, Reply::Ok);
        c.on_reply(1, Reply::Ok);
        c.on_reply(0, Reply::Decided(Decision::Commit));
        c.on_reply(1, Reply::Unknown);
        c.on_reply(0, Reply::Ok);
        assert_eq!(c.outcome(), Some(Outcome::Committed { finished: false }));
    }

    #[test]
    fn a_body_failure_aborts_without_statements() {
        let mut c = coordinator();
        c.body_failed();
        assert_eq!(c.outcome(), Some(Outcome::Aborted));
    }
}
