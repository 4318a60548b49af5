//! The subscriptions of a session: where each stands with the server, and what each
//! delivered (its tracker), so that joins, reconnects and expired logins lose nothing
//! and repeat nothing.

use std::collections::{HashMap, VecDeque};

use super::action::Actions;
use super::key::{Ids, Key};
use super::tracker::{Arrived, Tracker};
use crate::data::Data;
use crate::event::{Event, Uid};
use crate::protocol::{ClientMessage, RawJson, ServerError, SubscribeRequest, SubscriptionKind};

/// Where a subscription stands with the server on the current connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SubState {
    /// The server does not know it: it is sent once the session is ready.
    Unsent,
    /// Sent, and its `init` has not come yet: an error now is a refusal.
    Awaiting,
    /// Registered on the server.
    Live,
    /// Registered on the server, but it skipped events (its reads failed while the
    /// login was expired): sent again with the same uid once authenticated, which
    /// replaces it and brings an `init` to catch up from.
    Stale,
}

struct Sub {
    request: SubscribeRequest,
    /// Shared with every event of the subscription.
    uid: Uid,
    state: SubState,
    /// What was delivered, for subscriptions whose `init` lists their items.
    tracker: Option<Tracker>,
}

/// What a subscription error meant.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The server refused the subscription with this number; it is gone.
    Refused(u64),
    /// The server could not read an event of a subscription it keeps (the user's
    /// permissions changed; before 12.4 the error does not say which subscription):
    /// the subscriptions concerned are subscribed again, and their new `init` brings
    /// what was missed, or the refusal.
    Resync,
    /// Not a refusal (a read skipped while the login renews, or the answer to a
    /// subscription the user ended already).
    Ignored,
}

/// The subscription set of one session.
pub(crate) struct Subscriptions {
    subs: HashMap<u64, Sub>,
    /// Subscribes sent and not answered yet, oldest first. An ended subscription stays
    /// here until its answer comes, so that an answer without uid is not taken for the
    /// next one's.
    awaiting: VecDeque<u64>,
    /// Catch-up reads in flight: read number → subscription number.
    catch_ups: HashMap<u64, u64>,
    track_limit: usize,
    /// One subscribe at a time: servers before Directus 12.3 refuse a subscribe
    /// without its uid, and only this way is each refusal matched to its subscription.
    /// On until the session knows the server echoes the uid.
    serial: bool,
}

impl Subscriptions {
    pub(crate) fn new(track_limit: usize) -> Self {
        Subscriptions { subs: HashMap::new(), awaiting: VecDeque::new(), catch_ups: HashMap::new(), track_limit, serial: true }
    }

    /// Whether subscribes go one at a time.
    pub(crate) fn set_serial(&mut self, serial: bool) {
        self.serial = serial;
    }

    /// A new subscription; sent now if the session is ready.
    pub(crate) fn add(&mut self, id: u64, request: SubscribeRequest, ready: bool, actions: &mut Actions) {
        let tracker = request.lists_items().then(|| Tracker::new(&request.key_field, request.is_windowed(), self.track_limit));
        let uid = Key::Subscribe(id).uid().into();
        self.subs.insert(id, Sub { request, uid, state: SubState::Unsent, tracker });
        if ready {
            self.send_unsent(actions);
        }
    }

    /// Ends a subscription. `Some(true)` when the server knows it (so an unsubscribe
    /// must be sent), `Some(false)` when it never heard of it, `None` when there is none.
    pub(crate) fn remove(&mut self, id: u64) -> Option<bool> {
        let sub = self.subs.remove(&id)?;
        if !self.serial {
            self.awaiting.retain(|a| *a != id);
        }
        Some(sub.state != SubState::Unsent)
    }

    /// The session is ready (again): subscribes that were never sent, or that went
    /// stale while the login was expired, go out now.
    pub(crate) fn on_ready(&mut self, actions: &mut Actions) {
        self.send_unsent(actions);
    }

    fn send_unsent(&mut self, actions: &mut Actions) {
        let mut unsent: Vec<u64> =
            self.subs.iter().filter(|(_, s)| matches!(s.state, SubState::Unsent | SubState::Stale)).map(|(id, _)| *id).collect();
        unsent.sort_unstable();
        for id in unsent {
            if self.serial && !self.awaiting.is_empty() {
                break;
            }
            let Some(sub) = self.subs.get_mut(&id) else { continue };
            sub.state = SubState::Awaiting;
            self.awaiting.push_back(id);
            let msg = ClientMessage::Subscribe { request: sub.request.clone(), uid: Some(sub.uid.to_string()) };
            actions.write_request(Key::Subscribe(id), msg.encode());
        }
    }

    /// Stops waiting for the answer to subscription `id` (its request timed out): the
    /// next subscribe may go.
    pub(crate) fn forget_answer(&mut self, id: u64, actions: &mut Actions) {
        self.answered(id, actions);
    }

    fn answered(&mut self, id: u64, actions: &mut Actions) {
        if let Some(pos) = self.awaiting.iter().position(|a| *a == id) {
            self.awaiting.remove(pos);
            if self.serial {
                self.send_unsent(actions);
            }
        }
    }

    /// A subscription event. True for an `init`, which completes the subscribe.
    pub(crate) fn on_event(&mut self, id: u64, kind: SubscriptionKind, data: Option<Arrived>, ids: &Ids, actions: &mut Actions) -> bool {
        let init = kind == SubscriptionKind::Init;
        if init {
            self.answered(id, actions);
        }
        let Some(sub) = self.subs.get_mut(&id) else {
            log::debug!("dropped a {} event of ended subscription s-{id}", kind.as_str());
            return false;
        };
        if init {
            sub.state = SubState::Live;
        }
        // Only items are tracked; no data (an init that asked for none) passes as it is.
        let (tracker, data) = match (sub.tracker.as_mut(), data) {
            (Some(tracker), Some(data)) => (tracker, data),
            (_, data) => {
                actions.emit(Event::Subscription { uid: sub.uid.clone(), kind, data: data.map_or_else(Data::null, |a| Data::raw(a.data)) });
                return init;
            }
        };
        if init {
            for (kind, data) in tracker.on_init(data) {
                actions.emit(Event::Subscription { uid: sub.uid.clone(), kind, data });
            }
        } else if let Some((kind, data)) = tracker.on_event(kind, data) {
            actions.emit(Event::Subscription { uid: sub.uid.clone(), kind, data });
        }
        // The server computes an `init` before it registers the subscription: an item
        // created in between is in neither, so read the query once more after each.
        if init && tracker.wants_catch_up() {
            let read = ids.next();
            if let Some(msg) = ClientMessage::catch_up(&sub.request, Key::CatchUp(read).uid()) {
                self.catch_ups.insert(read, id);
                actions.read(Key::CatchUp(read), &msg);
            }
        }
        init
    }

    /// The answer of a catch-up read: the items the join window hid, as a create.
    pub(crate) fn on_catch_up(&mut self, read: u64, data: RawJson, actions: &mut Actions) {
        let Some(id) = self.catch_ups.remove(&read) else { return };
        let Some(sub) = self.subs.get_mut(&id) else { return };
        if let Some((kind, data)) = sub.tracker.as_mut().and_then(|t| t.on_catch_up(data)) {
            log::info!("caught up {} item(s) the join window hid from {}", data.len(), sub.uid);
            actions.emit(Event::Subscription { uid: sub.uid.clone(), kind, data });
        }
    }

    /// A catch-up read failed: only a refinement is lost, the subscription stands.
    pub(crate) fn on_catch_up_failed(&mut self, read: u64, error: &ServerError) {
        if let Some(id) = self.catch_ups.remove(&read) {
            log::warn!("catch-up read for s-{id} failed: {}", error.code);
        }
    }

    /// A `subscribe` error, for subscription `id` or, when the server sent no uid, for
    /// the oldest subscribe still awaiting its answer.
    pub(crate) fn on_error(&mut self, id: Option<u64>, error: ServerError, authenticated: bool, actions: &mut Actions) -> Refusal {
        let id = match id {
            Some(id) => id,
            // Only when it cannot be another's: one subscribe at a time, or just one out.
            None if !self.awaiting.is_empty() && (self.serial || self.awaiting.len() == 1) => self.awaiting[0],
            // Nothing awaits an answer: before 12.4 this is how the server says it could
            // not read an event of some subscription for this user.
            None if !authenticated => return Refusal::Ignored,
            None => return self.resync(None),
        };
        match self.subs.get(&id).map(|s| s.state) {
            // Not a refusal: while the login renews, the server fails every event read
            // of the subscriptions it keeps, and they are already marked to catch up.
            Some(SubState::Live | SubState::Stale | SubState::Unsent) if !authenticated => {
                log::info!("subscription s-{id} skipped an event while the login renews; it catches up after");
                return Refusal::Ignored;
            }
            Some(SubState::Live | SubState::Stale) => return self.resync(Some(id)),
            _ => {}
        }
        let was_awaiting = self.awaiting.contains(&id);
        self.answered(id, actions);
        match self.subs.remove(&id) {
            Some(sub) => {
                // Reported on the stream too: a subscription made without waiting has no
                // other way to learn it was refused.
                actions.emit(Event::SubscriptionError { uid: sub.uid, error });
                Refusal::Refused(id)
            }
            None if was_awaiting => Refusal::Ignored,
            None => {
                log::debug!("a subscribe error for ended subscription s-{id}: {}", error.code);
                Refusal::Ignored
            }
        }
    }

    /// Marks subscription `id` (or every live one) to be subscribed again.
    fn resync(&mut self, id: Option<u64>) -> Refusal {
        for (n, sub) in self.subs.iter_mut() {
            if id.is_none_or(|id| id == *n) && sub.state == SubState::Live {
                log::warn!("the server could not deliver an event of {}; subscribing again to catch up", sub.uid);
                sub.state = SubState::Stale;
            }
        }
        Refusal::Resync
    }

    /// The server expired the login: live subscriptions miss events until the renewal.
    pub(crate) fn on_expired(&mut self) {
        for sub in self.subs.values_mut() {
            if sub.state == SubState::Live {
                sub.state = SubState::Stale;
            }
        }
    }

    /// The connection is gone, and every subscription with it on the server's side.
    pub(crate) fn on_disconnected(&mut self) {
        for sub in self.subs.values_mut() {
            sub.state = SubState::Unsent;
        }
        self.awaiting.clear();
        // Their answers are lost with the connection; the next init asks again.
        self.catch_ups.clear();
    }

    #[cfg(test)]
    fn state(&self, id: u64) -> Option<SubState> {
        self.subs.get(&id).map(|s| s.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ErrorCode, ServerMessage};
    use crate::session::action::Action;
    use serde_json::{json, Value};

    /// What the machine did: frames as JSON (the reads it asked for last), events as
    /// they are.
    fn drain(a: &mut Actions) -> (Vec<Value>, Vec<Event>) {
        let (mut frames, mut events) = (Vec::new(), Vec::new());
        for action in a.list.drain(..) {
            match action {
                Action::Write(f) => frames.push(serde_json::from_str(&f).unwrap()),
                Action::Emit(e) => events.push(e),
                other => panic!("{other:?}"),
            }
        }
        frames.extend(a.reads.drain(..).map(|(_, f)| serde_json::from_str::<Value>(&f).unwrap()));
        a.written.clear();
        (frames, events)
    }

    /// Feeds a recorded `subscription` frame.
    fn feed(s: &mut Subscriptions, frame: &str, ids: &Ids, a: &mut Actions) -> bool {
        match ServerMessage::decode(frame).unwrap() {
            ServerMessage::Subscription { uid: Some(uid), kind, data, items } => {
                s.on_event(Key::subscription_of(&uid).unwrap(), kind, data.map(|data| Arrived { data, items }), ids, a)
            }
            other => panic!("{other:?}"),
        }
    }

    fn chat() -> SubscribeRequest {
        SubscribeRequest::new("messages").query(json!({"fields":["*"],"limit":-1}))
    }

    fn forbidden() -> ServerError {
        ServerError::new(ErrorCode::Forbidden, "You don't have permission to access this.")
    }

    #[test]
    fn subscribe_init_then_reconnect_resubscribe_and_catch_up_deliver_each_change_once() {
        let (ids, mut a) = (Ids::default(), Actions::default());
        let mut s = Subscriptions::new(100);
        s.set_serial(false);
        s.add(1, chat(), false, &mut a);
        assert!(a.list.is_empty(), "not ready: waits");
        s.on_ready(&mut a);
        let (frames, _) = drain(&mut a);
        assert_eq!(frames, vec![json!({"type":"subscribe","collection":"messages","query":{"fields":["*"],"limit":-1},"uid":"s-1"})]);
        assert_eq!(s.state(1), Some(SubState::Awaiting));

        assert!(feed(&mut s, r#"{"type":"subscription","event":"init","data":[{"id":1,"text":"a"}],"uid":"s-1"}"#, &ids, &mut a));
        let (frames, events) = drain(&mut a);
        assert_eq!(
            events,
            vec![Event::Subscription { uid: "s-1".into(), kind: SubscriptionKind::Init, data: json!([{"id":1,"text":"a"}]).into() }]
        );
        // The catch-up read of the join window.
        assert_eq!(frames[0]["type"], "items");
        assert_eq!(frames[0]["uid"], "c-1");
        // Item 2 was created in the window: the read finds it, once.
        s.on_catch_up(1, RawJson::new(json!([{"id":1,"text":"a"},{"id":2,"text":"b"}]).to_string()), &mut a);
        let (_, events) = drain(&mut a);
        assert_eq!(
            events,
            vec![Event::Subscription { uid: "s-1".into(), kind: SubscriptionKind::Create, data: json!([{"id":2,"text":"b"}]).into() }]
        );
        assert!(!feed(&mut s, r#"{"type":"subscription","event":"create","data":[{"id":2,"text":"b"}],"uid":"s-1"}"#, &ids, &mut a));
        assert!(drain(&mut a).1.is_empty(), "not delivered twice");

        // The line drops; while away 1 is edited and 3 created. Back: subscribed again
        // with the same uid, and the new init becomes exactly the missed changes.
        s.on_disconnected();
        assert_eq!(s.state(1), Some(SubState::Unsent));
        s.on_ready(&mut a);
        assert_eq!(drain(&mut a).0[0]["uid"], "s-1");
        assert!(feed(
            &mut s,
            r#"{"type":"subscription","event":"init","data":[{"id":1,"text":"A"},{"id":2,"text":"b"},{"id":3,"text":"c"}],"uid":"s-1"}"#,
            &ids,
            &mut a
        ));
        let (_, events) = drain(&mut a);
        assert_eq!(
            events,
            vec![
                Event::Subscription { uid: "s-1".into(), kind: SubscriptionKind::Create, data: json!([{"id":3,"text":"c"}]).into() },
                Event::Subscription { uid: "s-1".into(), kind: SubscriptionKind::Update, data: json!([{"id":1,"text":"A"}]).into() },
            ]
        );
    }

    #[test]
    fn a_refusal_ends_the_subscription_and_is_reported() {
        let (ids, mut a) = (Ids::default(), Actions::default());
        let mut s = Subscriptions::new(100);
        s.add(4, SubscribeRequest::new("secrets"), true, &mut a);
        drain(&mut a);
        assert_eq!(s.on_error(Some(4), forbidden(), true, &mut a), Refusal::Refused(4));
        let (_, events) = drain(&mut a);
        assert_eq!(events, vec![Event::SubscriptionError { uid: "s-4".into(), error: forbidden() }]);
        assert_eq!(s.on_error(Some(4), forbidden(), true, &mut a), Refusal::Ignored);
        assert!(!feed(&mut s, r#"{"type":"subscription","event":"create","data":[{"id":1}],"uid":"s-4"}"#, &ids, &mut a));
    }

    #[test]
    fn while_the_login_renews_event_errors_are_not_refusals_and_the_subscription_catches_up() {
        let (ids, mut a) = (Ids::default(), Actions::default());
        let mut s = Subscriptions::new(100);
        s.add(1, chat(), true, &mut a);
        feed(&mut s, r#"{"type":"subscription","event":"init","data":[],"uid":"s-1"}"#, &ids, &mut a);
        drain(&mut a);
        s.on_expired();
        assert_eq!(s.on_error(Some(1), forbidden(), false, &mut a), Refusal::Ignored);
        assert_eq!(s.on_error(None, forbidden(), false, &mut a), Refusal::Ignored);
        assert_eq!(s.state(1), Some(SubState::Stale));
        // Authenticated again: the stale subscription is sent again (same uid).
        s.on_ready(&mut a);
        assert_eq!(
            drain(&mut a).0,
            vec![json!({"type":"subscribe","collection":"messages","query":{"fields":["*"],"limit":-1},"uid":"s-1"})]
        );
    }

    #[test]
    fn refusals_without_uid_are_matched_when_subscribes_go_one_at_a_time() {
        let (ids, mut a) = (Ids::default(), Actions::default());
        let mut s = Subscriptions::new(100);
        assert!(s.serial, "on by default");
        s.add(1, SubscribeRequest::new("secrets"), true, &mut a);
        s.add(2, chat(), true, &mut a);
        s.add(3, SubscribeRequest::new("more_secrets"), true, &mut a);
        let (frames, _) = drain(&mut a);
        assert_eq!(frames.len(), 1, "one at a time");
        // Directus 11 refuses without the uid.
        assert_eq!(s.on_error(None, forbidden(), true, &mut a), Refusal::Refused(1));
        let (frames, events) = drain(&mut a);
        assert_eq!(events, vec![Event::SubscriptionError { uid: "s-1".into(), error: forbidden() }]);
        assert_eq!(frames[0]["uid"], "s-2", "the next goes once the first is answered");
        assert!(feed(&mut s, r#"{"type":"subscription","event":"init","data":[],"uid":"s-2"}"#, &ids, &mut a));
        let (frames, _) = drain(&mut a);
        assert_eq!(frames.iter().map(|f| f["uid"].clone()).collect::<Vec<_>>(), vec![json!("s-3"), json!("c-1")]);
        // Ended while awaiting: its refusal, when it comes, is nobody else's.
        assert_eq!(s.remove(3), Some(true));
        assert_eq!(s.on_error(None, forbidden(), true, &mut a), Refusal::Ignored);
        // Without serial mode an uid-less refusal with several out is not guessed.
        let mut s = Subscriptions::new(100);
        s.set_serial(false);
        s.add(1, SubscribeRequest::new("a"), true, &mut a);
        s.add(2, SubscribeRequest::new("b"), true, &mut a);
        assert_eq!(s.on_error(None, forbidden(), true, &mut a), Refusal::Resync);
        assert_eq!(s.state(1), Some(SubState::Awaiting));
    }

    #[test]
    fn an_event_the_server_could_not_deliver_makes_the_subscription_catch_up() {
        let (ids, mut a) = (Ids::default(), Actions::default());
        let mut s = Subscriptions::new(100);
        s.add(1, chat(), true, &mut a);
        s.add(2, SubscribeRequest::new("rooms").query(json!({"limit": -1})), true, &mut a);
        feed(&mut s, r#"{"type":"subscription","event":"init","data":[],"uid":"s-1"}"#, &ids, &mut a);
        feed(&mut s, r#"{"type":"subscription","event":"init","data":[],"uid":"s-2"}"#, &ids, &mut a);
        drain(&mut a);
        // 12.4 names the subscription: only it subscribes again, and no error is reported.
        assert_eq!(s.on_error(Some(1), forbidden(), true, &mut a), Refusal::Resync);
        assert_eq!((s.state(1), s.state(2)), (Some(SubState::Stale), Some(SubState::Live)));
        s.on_ready(&mut a);
        let (frames, events) = drain(&mut a);
        assert_eq!(frames.iter().map(|f| f["uid"].clone()).collect::<Vec<_>>(), vec![json!("s-1")]);
        assert!(events.is_empty());
        // Before 12.4 it does not say which one: every live subscription catches up.
        feed(&mut s, r#"{"type":"subscription","event":"init","data":[],"uid":"s-1"}"#, &ids, &mut a);
        assert_eq!(s.on_error(None, forbidden(), true, &mut a), Refusal::Resync);
        assert_eq!((s.state(1), s.state(2)), (Some(SubState::Stale), Some(SubState::Stale)));
    }

    #[test]
    fn filtered_and_single_item_subscriptions_pass_events_through() {
        let (ids, mut a) = (Ids::default(), Actions::default());
        let mut s = Subscriptions::new(100);
        s.add(1, SubscribeRequest::new("messages").item(7), true, &mut a);
        drain(&mut a);
        assert!(feed(&mut s, r#"{"type":"subscription","event":"init","data":{"id":7},"uid":"s-1"}"#, &ids, &mut a));
        let (frames, events) = drain(&mut a);
        assert!(frames.is_empty(), "no catch-up for a single item");
        assert_eq!(events.len(), 1);
        assert_eq!(s.remove(1), Some(true));
        assert_eq!(s.remove(1), None);
    }
}
