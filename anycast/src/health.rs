//! When a PoP announces its game VIPs: the health agent's decision, as a pure state machine fed
//! observations and the time (the agent's loop does the probing, the scraping and BIRD).
//!
//! The VIPs are withdrawn when the local node
//! * stops answering its liveness probe for `probe_failures_max` checks in a row (dead, hung, or
//!   its socket gone),
//! * runs ticks over budget — tick p99 above `tick_p99_budget_ms` — for `over_budget_for_ms`
//!   (a node that cannot keep its tick rate makes every player on it lag: better elsewhere),
//! * or is draining (an operator's `drain`: withdraw first, let sessions finish, then stop).
//!
//! A withdrawn PoP announces again only after `recoveries_needed` healthy checks in a row, so a
//! flapping node does not flap the route (every flap is a BGP update through the upstream and,
//! with route-flap damping upstream, can get the prefix suppressed for minutes).

/// Why the VIPs are withdrawn (also the metric and log label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithdrawReason {
    NodeUnreachable,
    TickOverBudget,
    Draining,
}

impl WithdrawReason {
    pub fn label(self) -> &'static str {
        match self {
            WithdrawReason::NodeUnreachable => "node_unreachable",
            WithdrawReason::TickOverBudget => "tick_over_budget",
            WithdrawReason::Draining => "draining",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announcement {
    Announced,
    Withdrawn(WithdrawReason),
}

/// The thresholds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthPolicy {
    /// Failed probes in a row before the VIPs go.
    pub probe_failures_max: u32,
    /// Tick p99 above this is over budget.
    pub tick_p99_budget_ms: f64,
    /// How long the tick must stay over budget before the VIPs go.
    pub over_budget_for_ms: u64,
    /// Healthy checks in a row before withdrawn VIPs come back.
    pub recoveries_needed: u32,
}

impl Default for HealthPolicy {
    /// Checks every 200 ms (the agent's default interval): a dead node is withdrawn after 3 missed
    /// probes (~0.6 s), a node over a 50 ms tick p99 (one 20 Hz tick) after 5 s, and a recovered
    /// node announced after 10 good checks (~2 s).
    fn default() -> Self {
        HealthPolicy {
            probe_failures_max: 3,
            tick_p99_budget_ms: 50.0,
            over_budget_for_ms: 5_000,
            recoveries_needed: 10,
        }
    }
}

/// One check's result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    pub now_ms: u64,
    pub probe_answered: bool,
    /// The node's tick p99 over the last interval, if its metrics could be read and it ticked.
    pub tick_p99_ms: Option<f64>,
    pub draining: bool,
}

/// The agent's decision state. Starts withdrawn: a PoP announces only after its node proved healthy.
#[derive(Clone, Debug)]
pub struct HealthMachine {
    policy: HealthPolicy,
    state: Announcement,
    probe_failures: u32,
    over_budget_since_ms: Option<u64>,
    healthy_in_a_row: u32,
}

impl HealthMachine {
    pub fn new(policy: HealthPolicy) -> Self {
        assert!(policy.probe_failures_max >= 1 && policy.recoveries_needed >= 1);
        HealthMachine {
            policy,
            state: Announcement::Withdrawn(WithdrawReason::NodeUnreachable),
            probe_failures: 0,
            over_budget_since_ms: None,
            healthy_in_a_row: 0,
        }
    }

    pub fn state(&self) -> Announcement {
        self.state
    }

    /// Feeds one check; returns the new state when it changed (the agent then tells BIRD).
    pub fn observe(&mut self, observation: Observation) -> Option<Announcement> {
        self.probe_failures = if observation.probe_answered {
            0
        } else {
            self.probe_failures + 1
        };
        let over_budget = observation
            .tick_p99_ms
            .is_some_and(|p99| p99 > self.policy.tick_p99_budget_ms);
        self.over_budget_since_ms = match (over_budget, self.over_budget_since_ms) {
            (true, None) => Some(observation.now_ms),
            (true, since) => since,
            (false, _) => None,
        };
        let unhealthy = if observation.draining {
            Some(WithdrawReason::Draining)
        } else if self.probe_failures >= self.policy.probe_failures_max {
            Some(WithdrawReason::NodeUnreachable)
        } else if self
            .over_budget_since_ms
            .is_some_and(|since| observation.now_ms.saturating_sub(since) >= self.policy.over_budget_for_ms)
        {
            Some(WithdrawReason::TickOverBudget)
        } else {
            None
        };
        let healthy_now = observation.probe_answered && !over_budget && !observation.draining;
        self.healthy_in_a_row = if healthy_now { self.healthy_in_a_row + 1 } else { 0 };
        let next = match (self.state, unhealthy) {
            (_, Some(reason)) => Announcement::Withdrawn(reason),
            (Announcement::Announced, None) => Announcement::Announced,
            (Announcement::Withdrawn(reason), None) => {
                if self.healthy_in_a_row >= self.policy.recoveries_needed {
                    Announcement::Announced
                } else {
                    Announcement::Withdrawn(reason)
                }
            }
        };
        if next == self.state {
            return None;
        }
        self.state = next;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(now_ms: u64, answered: bool, p99: Option<f64>, draining: bool) -> Observation {
        Observation {
            now_ms,
            probe_answered: answered,
            tick_p99_ms: p99,
            draining,
        }
    }

    fn policy() -> HealthPolicy {
        HealthPolicy {
            probe_failures_max: 3,
            tick_p99_budget_ms: 50.0,
            over_budget_for_ms: 1_000,
            recoveries_needed: 2,
        }
    }

    #[test]
    fn announces_only_after_proving_healthy_and_withdraws_after_three_missed_probes() {
        let mut machine = HealthMachine::new(policy());
        assert_eq!(
            machine.observe(check(0, true, Some(2.0), false)),
            None,
            "one good check is not enough"
        );
        assert_eq!(
            machine.observe(check(200, true, Some(2.0), false)),
            Some(Announcement::Announced)
        );
        assert_eq!(machine.observe(check(400, false, None, false)), None);
        assert_eq!(machine.observe(check(600, false, None, false)), None);
        assert_eq!(
            machine.observe(check(800, false, None, false)),
            Some(Announcement::Withdrawn(WithdrawReason::NodeUnreachable))
        );
        // Back: one good check does not flap the route; two do.
        assert_eq!(machine.observe(check(1_000, true, Some(2.0), false)), None);
        assert_eq!(
            machine.observe(check(1_200, true, Some(2.0), false)),
            Some(Announcement::Announced)
        );
    }

    #[test]
    fn a_tick_over_budget_withdraws_only_when_it_lasts() {
        let mut machine = HealthMachine::new(policy());
        machine.observe(check(0, true, Some(2.0), false));
        machine.observe(check(200, true, Some(2.0), false));
        assert_eq!(machine.state(), Announcement::Announced);
        // A short spike: no withdrawal.
        assert_eq!(machine.observe(check(400, true, Some(80.0), false)), None);
        assert_eq!(machine.observe(check(600, true, Some(3.0), false)), None);
        // A lasting one: withdrawn once it has lasted over_budget_for_ms.
        for now in [800, 1_000, 1_200, 1_400, 1_600] {
            assert_eq!(
                machine.observe(check(now, true, Some(80.0), false)),
                None,
                "at {now} ms"
            );
        }
        assert_eq!(
            machine.observe(check(1_800, true, Some(80.0), false)),
            Some(Announcement::Withdrawn(WithdrawReason::TickOverBudget))
        );
        // Missing metrics are not over budget (the probe still says alive).
        assert_eq!(machine.observe(check(2_000, true, None, false)), None);
        assert_eq!(
            machine.observe(check(2_200, true, None, false)),
            Some(Announcement::Announced)
        );
    }

    #[test]
    fn draining_withdraws_at_once_and_stays_withdrawn_while_it_lasts() {
        let mut machine = HealthMachine::new(policy());
        machine.observe(check(0, true, Some(2.0), false));
        machine.observe(check(200, true, Some(2.0), false));
        assert_eq!(
            machine.observe(check(400, true, Some(2.0), true)),
            Some(Announcement::Withdrawn(WithdrawReason::Draining))
        );
        for now in (600..3_000).step_by(200) {
            assert_eq!(machine.observe(check(now, true, Some(2.0), true)), None);
        }
    }
}
