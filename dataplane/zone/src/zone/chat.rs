//! Zone chat: relayed to every client in the zone, limited per client and per tick.

use std::sync::Arc;

use super::{CHAT_MESSAGES_PER_TICK_MAX, ClientEvent, ClientId, Zone, ZoneOutput};
use crate::input::CHAT_BYTES_MAX;

impl Zone {
    pub(super) fn chat(&mut self, client: ClientId, text: Arc<str>, out: &mut ZoneOutput) {
        if text.len() > CHAT_BYTES_MAX || text.is_empty() {
            self.counters.chat_dropped_length += 1;
            return;
        }
        if self.chat_this_tick >= CHAT_MESSAGES_PER_TICK_MAX {
            self.counters.chat_dropped_zone_limit += 1;
            return;
        }
        let tick = self.tick;
        let window = u64::from(self.config.chat_window_ticks);
        let limit = self.config.chat_messages_per_window;
        let Some(session) = self.clients.get_mut(&client) else {
            return;
        };
        if tick >= session.chat_window_start_tick + window {
            session.chat_window_start_tick = tick;
            session.chat_in_window = 0;
        }
        if session.chat_in_window >= limit {
            self.counters.chat_dropped_rate += 1;
            return;
        }
        session.chat_in_window += 1;
        let from_entity = session.net_id;
        self.chat_this_tick += 1;
        self.counters.chat_relayed += 1;
        for listener in self.clients.keys() {
            out.client_events.push((
                *listener,
                ClientEvent::Chat {
                    from_entity,
                    text: Arc::clone(&text),
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::input::{Action, CHAT_BYTES_MAX};
    use crate::zone::test_support::{drive, join};
    use crate::zone::*;

    #[test]
    fn zone_chat_reaches_everyone_and_is_rate_limited() {
        let config = ZoneConfig {
            chat_messages_per_window: 2,
            input_jitter_ticks: 1,
            ..ZoneConfig::default()
        };
        let mut zone = Zone::new(config, 0, 7, 0).unwrap();
        let mut out = ZoneOutput::default();
        let mut now = 0;
        zone.tick(
            now,
            None,
            [join(1, [1.0, 1.0, 0.0]), join(2, [900.0, 900.0, 0.0])],
            &mut out,
        );
        let say = |text: &str| Some(Action::Chat { text: Arc::from(text) });
        let long = "x".repeat(CHAT_BYTES_MAX + 1);
        let events = drive(
            &mut zone,
            &mut out,
            &mut now,
            1,
            0,
            vec![say("hi"), say(&long), say("again"), say("spam")],
        );
        let heard: Vec<(ClientId, Arc<str>)> = events
            .into_iter()
            .filter_map(|(client, event)| match event {
                ClientEvent::Chat { text, .. } => Some((client, text)),
                _ => None,
            })
            .collect();
        assert_eq!(heard.len(), 4, "two messages, two listeners (far away too: zone chat)");
        assert!(
            heard
                .iter()
                .any(|(client, text)| *client == ClientId(2) && &**text == "again")
        );
        assert_eq!(zone.counters().chat_dropped_length, 1);
        assert_eq!(zone.counters().chat_dropped_rate, 1);
    }
}
