//! The subscriber-access menus (Outlook Voice Access style) as a pure state machine: typed
//! [`Input`]s in, one [`Command`] out per input.
//!
//! Login (caller ID or extension, then the PIN; `*` for another mailbox, `#` alone to leave a
//! message instead), the main menu (`1` voice mail, `6` personal options, `0` repeat), voice mail
//! (new messages first, each with its envelope; `7` delete, `#` next and mark read, `9` keep
//! unread, `1` replay, `*` main menu) and personal options (`1`/`2`/`3` record the unavailable
//! greeting, the away greeting or the name, then `1` keep or `2` again; `4` change the PIN). No
//! input re-prompts twice and then says goodbye; three wrong PINs end the call.
//!
//! Never does IO, never reads a clock and never touches the store or the directory: the driver,
//! `um::access`, carries out each [`Command`] and answers with the [`Input`] it calls for.
//! Entry points: [`Menu::new`], [`Menu::start`], [`Menu::on`].

use std::sync::Arc;
use std::time::SystemTime;

use umbox_media::dtmf::{Digit, Event};
use umbox_media::g711::Law;
use umbox_media::prompts::Prompt;
use umbox_media::Entry;
use umbox_store::ItemId;

use crate::greetings::GreetingKind;

/// Wrong PINs that end a call.
pub const MAX_WRONG_PINS: u8 = 3;
/// Prompts repeated after no input before the call ends.
pub const MAX_REPROMPTS: u8 = 2;
/// Unknown extensions typed before the call ends.
pub const MAX_MAILBOX_MISSES: u8 = 3;
/// Steps one call may take: a caller holding down keys (or a machine flooding events) is
/// hung up on rather than served forever.
pub const MAX_STEPS: u32 = 2000;

/// A mailbox that can be logged into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// The user's primary address.
    pub address: String,
}

/// G.711 audio to play (a message, a recording, a recorded name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// The law of `codes`.
    pub law: Law,
    /// The codes, 8000 a second.
    pub codes: Arc<[u8]>,
}

/// Who left a message, as the envelope says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// The caller's recorded name.
    Name(Clip),
    /// The calling number, spoken digit by digit.
    Number(String),
    /// Nothing known.
    Unknown,
}

/// A voice message as the menus see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The item.
    pub item: ItemId,
    /// Who left it.
    pub sender: Sender,
    /// When it was received.
    pub received: SystemTime,
    /// Whether it is still unread ("new").
    pub unread: bool,
}

/// Something to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Say {
    /// A system prompt.
    Prompt(Prompt),
    /// A count.
    Number(u32),
    /// Digits one by one (a calling number).
    Digits(String),
    /// A day and time ("Tuesday, three oh five P M").
    When(SystemTime),
    /// Audio in hand.
    Clip(Clip),
    /// A message's audio, read from the store by the driver.
    Message(ItemId),
}

/// How a PIN entry was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinCheck {
    /// Right: logged in.
    Accepted,
    /// Wrong, or no PIN is set.
    Wrong,
    /// The PIN is locked (now or before).
    Locked,
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Say this (a key cuts it short), then wait for one key; answer [`Input::Key`].
    AskKey(Vec<Say>),
    /// Say this, then collect digits ending with `#`; answer [`Input::Entry`].
    AskDigits(Vec<Say>),
    /// Find the mailbox at this extension; answer [`Input::Mailbox`].
    FindMailbox(String),
    /// Check a PIN (and count a failure); answer [`Input::Pin`].
    CheckPin {
        /// Whose.
        subscriber: Subscriber,
        /// What was typed.
        digits: String,
    },
    /// Read the subscriber's voice messages, new ones first, oldest first within each; answer
    /// [`Input::Messages`].
    LoadMessages,
    /// Set or clear the read flag; answer [`Input::Done`].
    MarkRead {
        /// The message.
        item: ItemId,
        /// Read (true) or unread.
        read: bool,
    },
    /// Move the message to Deleted Items; answer [`Input::Done`].
    Delete {
        /// The message.
        item: ItemId,
    },
    /// Say "record after the tone", beep and record until `#`; answer [`Input::Recording`].
    Record(GreetingKind),
    /// Store the recording; answer [`Input::Done`].
    Save(GreetingKind, Clip),
    /// Replace the subscriber's PIN; answer [`Input::PinChanged`].
    ChangePin(String),
    /// Hand the call to the leave-a-message flow (extension entry, greeting, recording). Final.
    LeaveMessage,
    /// Say this, then hang up. Final.
    Hangup(Vec<Say>),
}

/// What the driver reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The key pressed during or after the prompt; `None` when none came in time.
    Key(Option<Event>),
    /// How the digit entry ended.
    Entry(Entry),
    /// The mailbox found, if any.
    Mailbox(Option<Subscriber>),
    /// The PIN's verdict.
    Pin(PinCheck),
    /// The subscriber's voice messages, in playing order.
    Messages(Vec<Envelope>),
    /// The store change was made (or failed and was logged: the menus carry on either way).
    Done,
    /// The recording, or `None` when nothing was recorded.
    Recording(Option<Clip>),
    /// Whether the new PIN was taken (`false`: the policy refused it).
    PinChanged(bool),
}

/// What the machine waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Extension { first: bool },
    FindingMailbox,
    Pin { subscriber: Subscriber, first: bool },
    CheckingPin { subscriber: Subscriber },
    MainMenu,
    Loading,
    Message,
    Changing { then: Vec<Say> },
    Options,
    Recording(GreetingKind),
    Review(GreetingKind, Clip),
    Saving,
    NewPin,
    SettingPin,
    Over,
}

/// One call's menus.
#[derive(Debug, Clone)]
pub struct Menu {
    state: State,
    caller: Option<Subscriber>,
    messages: Vec<Envelope>,
    current: usize,
    wrong_pins: u8,
    no_input: u8,
    misses: u8,
    steps: u32,
}

fn prompt(prompt: Prompt) -> Say {
    Say::Prompt(prompt)
}

fn digit_key(event: Event) -> Option<u8> {
    match event {
        Event::Digit(digit) => Some(Digit::value(digit)),
        _ => None,
    }
}

impl Menu {
    /// The menus of a call whose caller ID names `caller` (then only the PIN is asked), or
    /// nobody known (the extension is asked first).
    pub fn new(caller: Option<Subscriber>) -> Menu {
        Menu {
            state: State::Over,
            caller,
            messages: Vec::new(),
            current: 0,
            wrong_pins: 0,
            no_input: 0,
            misses: 0,
            steps: 0,
        }
    }

    /// The first command.
    pub fn start(&mut self) -> Command {
        match self.caller.clone() {
            Some(subscriber) => self.ask_pin(subscriber, true, Vec::new()),
            None => self.ask_extension(true, Vec::new()),
        }
    }

    /// The command that answers `input`.
    pub fn on(&mut self, input: Input) -> Command {
        self.steps = self.steps.saturating_add(1);
        if self.steps > MAX_STEPS {
            return self.hangup(Vec::new());
        }
        let state = std::mem::replace(&mut self.state, State::Over);
        match (state, input) {
            (State::Extension { first }, Input::Entry(entry)) => self.on_extension(first, entry),
            (State::FindingMailbox, Input::Mailbox(found)) => match found {
                Some(subscriber) => {
                    self.no_input = 0;
                    self.ask_pin(subscriber, false, Vec::new())
                }
                None => {
                    self.misses += 1;
                    if self.misses >= MAX_MAILBOX_MISSES {
                        return self.hangup(vec![prompt(Prompt::NoMailbox)]);
                    }
                    self.ask_extension(false, vec![prompt(Prompt::NoMailbox)])
                }
            },
            (State::Pin { subscriber, first }, Input::Entry(entry)) => {
                self.on_pin(subscriber, first, entry)
            }
            (State::CheckingPin { subscriber }, Input::Pin(check)) => match check {
                PinCheck::Accepted => {
                    self.no_input = 0;
                    self.main_menu(Vec::new())
                }
                PinCheck::Wrong => {
                    self.wrong_pins += 1;
                    if self.wrong_pins >= MAX_WRONG_PINS {
                        return self.hangup(vec![prompt(Prompt::WrongPin)]);
                    }
                    self.ask_pin(subscriber, false, vec![prompt(Prompt::WrongPin)])
                }
                PinCheck::Locked => self.hangup(vec![prompt(Prompt::PinLocked)]),
            },
            (State::MainMenu, Input::Key(key)) => self.on_main_menu(key),
            (State::Loading, Input::Messages(messages)) => {
                self.messages = messages;
                self.current = 0;
                let new = self.messages.iter().filter(|m| m.unread).count();
                let count = u32::try_from(new).unwrap_or(u32::MAX);
                let noun = if new == 1 {
                    Prompt::NewMessage
                } else {
                    Prompt::NewMessages
                };
                let intro = vec![prompt(Prompt::YouHave), Say::Number(count), prompt(noun)];
                self.play_current(intro)
            }
            (State::Message, Input::Key(key)) => self.on_message_key(key),
            (State::Changing { then }, Input::Done) => self.play_current(then),
            (State::Options, Input::Key(key)) => self.on_options(key),
            (State::Recording(kind), Input::Recording(clip)) => match clip {
                Some(clip) => self.review(kind, clip),
                None => self.options(Vec::new()),
            },
            (State::Review(kind, clip), Input::Key(key)) => self.on_review(kind, clip, key),
            (State::Saving, Input::Done) => self.options(vec![prompt(Prompt::Saved)]),
            (State::NewPin, Input::Entry(entry)) => match entry {
                Entry::Digits(digits) => {
                    self.no_input = 0;
                    self.state = State::SettingPin;
                    Command::ChangePin(digits)
                }
                Entry::NoInput => self.no_input_then(|menu| menu.ask_new_pin(Vec::new())),
                Entry::Star => self.options(Vec::new()),
                Entry::Pound | Entry::TooLong => {
                    self.ask_new_pin(vec![prompt(Prompt::PinNotAllowed)])
                }
            },
            (State::SettingPin, Input::PinChanged(taken)) => {
                if taken {
                    self.options(vec![prompt(Prompt::PinChanged)])
                } else {
                    self.ask_new_pin(vec![prompt(Prompt::PinNotAllowed)])
                }
            }
            // An answer that does not fit the question is a driver bug; end the call politely
            // rather than guess.
            (_, _) => self.hangup(Vec::new()),
        }
    }

    fn ask_extension(&mut self, first: bool, mut say: Vec<Say>) -> Command {
        say.push(prompt(Prompt::EnterYourExtension));
        self.state = State::Extension { first };
        Command::AskDigits(say)
    }

    fn ask_pin(&mut self, subscriber: Subscriber, first: bool, mut say: Vec<Say>) -> Command {
        say.push(prompt(Prompt::EnterPin));
        if first {
            say.push(prompt(Prompt::PinOtherChoices));
        }
        self.state = State::Pin { subscriber, first };
        Command::AskDigits(say)
    }

    fn ask_new_pin(&mut self, mut say: Vec<Say>) -> Command {
        say.push(prompt(Prompt::EnterNewPin));
        self.state = State::NewPin;
        Command::AskDigits(say)
    }

    fn main_menu(&mut self, mut say: Vec<Say>) -> Command {
        say.push(prompt(Prompt::MainMenu));
        self.state = State::MainMenu;
        Command::AskKey(say)
    }

    fn options(&mut self, mut say: Vec<Say>) -> Command {
        say.push(prompt(Prompt::PersonalOptions));
        self.state = State::Options;
        Command::AskKey(say)
    }

    fn review(&mut self, kind: GreetingKind, clip: Clip) -> Command {
        self.state = State::Review(kind, clip.clone());
        Command::AskKey(vec![Say::Clip(clip), prompt(Prompt::KeepOrRedo)])
    }

    fn hangup(&mut self, mut say: Vec<Say>) -> Command {
        say.push(prompt(Prompt::Goodbye));
        self.state = State::Over;
        Command::Hangup(say)
    }

    /// Counts a prompt that got no answer: `again` repeats it, or after [`MAX_REPROMPTS`] the
    /// call ends.
    fn no_input_then(&mut self, again: impl FnOnce(&mut Menu) -> Command) -> Command {
        self.no_input += 1;
        if self.no_input > MAX_REPROMPTS {
            return self.hangup(Vec::new());
        }
        match again(self) {
            Command::AskKey(mut say) => {
                say.insert(0, prompt(Prompt::NoInput));
                Command::AskKey(say)
            }
            Command::AskDigits(mut say) => {
                say.insert(0, prompt(Prompt::NoInput));
                Command::AskDigits(say)
            }
            other => other,
        }
    }

    fn on_extension(&mut self, first: bool, entry: Entry) -> Command {
        match entry {
            Entry::Digits(digits) => {
                self.no_input = 0;
                self.state = State::FindingMailbox;
                Command::FindMailbox(digits)
            }
            // "To leave a message for someone, press pound."
            Entry::Pound => {
                self.state = State::Over;
                Command::LeaveMessage
            }
            Entry::NoInput => self.no_input_then(|menu| menu.ask_extension(first, Vec::new())),
            Entry::Star => self.ask_extension(first, Vec::new()),
            Entry::TooLong => self.on(Input::Mailbox(None)),
        }
    }

    fn on_pin(&mut self, subscriber: Subscriber, first: bool, entry: Entry) -> Command {
        match entry {
            Entry::Digits(digits) => {
                self.no_input = 0;
                self.state = State::CheckingPin {
                    subscriber: subscriber.clone(),
                };
                Command::CheckPin { subscriber, digits }
            }
            Entry::Pound if first => {
                self.state = State::Over;
                Command::LeaveMessage
            }
            Entry::Star => self.ask_extension(false, Vec::new()),
            Entry::NoInput => {
                self.no_input_then(|menu| menu.ask_pin(subscriber, first, Vec::new()))
            }
            // `#` alone after the first prompt, or a PIN longer than any PIN: a wrong PIN.
            Entry::Pound | Entry::TooLong => {
                self.state = State::CheckingPin { subscriber };
                self.on(Input::Pin(PinCheck::Wrong))
            }
        }
    }

    fn on_main_menu(&mut self, key: Option<Event>) -> Command {
        let Some(key) = key else {
            return self.no_input_then(|menu| menu.main_menu(Vec::new()));
        };
        self.no_input = 0;
        match digit_key(key) {
            Some(1) => {
                self.state = State::Loading;
                Command::LoadMessages
            }
            Some(6) => self.options(Vec::new()),
            // `0` repeats the menu, and so does any key it does not offer.
            _ => self.main_menu(Vec::new()),
        }
    }

    /// Plays the current message (after `intro`), or says there are no more and returns to the
    /// main menu.
    fn play_current(&mut self, mut say: Vec<Say>) -> Command {
        let Some(message) = self.messages.get(self.current) else {
            say.push(prompt(Prompt::NoMoreMessages));
            return self.main_menu(say);
        };
        say.push(prompt(Prompt::MessageFrom));
        match &message.sender {
            Sender::Name(clip) => say.push(Say::Clip(clip.clone())),
            Sender::Number(number) => say.push(Say::Digits(number.clone())),
            Sender::Unknown => {}
        }
        say.push(prompt(Prompt::Received));
        say.push(Say::When(message.received));
        say.push(Say::Message(message.item));
        say.push(prompt(Prompt::MessageMenu));
        self.state = State::Message;
        Command::AskKey(say)
    }

    fn on_message_key(&mut self, key: Option<Event>) -> Command {
        let Some(item) = self.messages.get(self.current).map(|m| m.item) else {
            return self.main_menu(Vec::new());
        };
        let Some(key) = key else {
            return self.no_input_then(|menu| {
                menu.state = State::Message;
                Command::AskKey(vec![prompt(Prompt::MessageMenu)])
            });
        };
        self.no_input = 0;
        match (key, digit_key(key)) {
            (_, Some(7)) => {
                // The list shrinks, so the next message takes the current index.
                self.messages.remove(self.current);
                self.state = State::Changing {
                    then: vec![prompt(Prompt::Deleted)],
                };
                Command::Delete { item }
            }
            (Event::Pound, _) => {
                self.current += 1;
                self.state = State::Changing { then: Vec::new() };
                Command::MarkRead { item, read: true }
            }
            (_, Some(9)) => {
                self.current += 1;
                self.state = State::Changing {
                    then: vec![prompt(Prompt::MarkedUnread)],
                };
                Command::MarkRead { item, read: false }
            }
            (_, Some(1)) => self.play_current(Vec::new()),
            (Event::Star, _) => self.main_menu(Vec::new()),
            _ => {
                self.state = State::Message;
                Command::AskKey(vec![prompt(Prompt::MessageMenu)])
            }
        }
    }

    fn on_options(&mut self, key: Option<Event>) -> Command {
        let Some(key) = key else {
            return self.no_input_then(|menu| menu.options(Vec::new()));
        };
        self.no_input = 0;
        let record = |menu: &mut Menu, kind| {
            menu.state = State::Recording(kind);
            Command::Record(kind)
        };
        match (key, digit_key(key)) {
            (_, Some(1)) => record(self, GreetingKind::Unavailable),
            (_, Some(2)) => record(self, GreetingKind::Away),
            (_, Some(3)) => record(self, GreetingKind::Name),
            (_, Some(4)) => self.ask_new_pin(Vec::new()),
            (Event::Star, _) => self.main_menu(Vec::new()),
            _ => self.options(Vec::new()),
        }
    }

    fn on_review(&mut self, kind: GreetingKind, clip: Clip, key: Option<Event>) -> Command {
        let Some(key) = key else {
            return self.no_input_then(|menu| {
                menu.state = State::Review(kind, clip);
                Command::AskKey(vec![prompt(Prompt::KeepOrRedo)])
            });
        };
        self.no_input = 0;
        match digit_key(key) {
            Some(1) => {
                self.state = State::Saving;
                Command::Save(kind, clip)
            }
            Some(2) => {
                self.state = State::Recording(kind);
                Command::Record(kind)
            }
            _ => self.review(kind, clip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: char) -> Input {
        let event = match c {
            '*' => Event::Star,
            '#' => Event::Pound,
            d => Event::Digit(Digit::from_char(d).unwrap()),
        };
        Input::Key(Some(event))
    }

    fn digits(text: &str) -> Input {
        Input::Entry(Entry::Digits(text.to_owned()))
    }

    fn alice() -> Subscriber {
        Subscriber {
            address: "alice@example.test".into(),
        }
    }

    fn says(command: &Command) -> Vec<Prompt> {
        let (Command::AskKey(say) | Command::AskDigits(say) | Command::Hangup(say)) = command
        else {
            return Vec::new();
        };
        say.iter()
            .filter_map(|s| match s {
                Say::Prompt(p) => Some(*p),
                _ => None,
            })
            .collect()
    }

    fn message(item: u64, unread: bool) -> Envelope {
        Envelope {
            item: ItemId(item),
            sender: Sender::Number("+14255550102".into()),
            received: UNIX_EPOCH_PLUS,
            unread,
        }
    }

    const UNIX_EPOCH_PLUS: SystemTime = SystemTime::UNIX_EPOCH;

    /// A menu logged in as alice, at the main menu.
    fn logged_in() -> Menu {
        let mut menu = Menu::new(Some(alice()));
        menu.start();
        assert_eq!(
            menu.on(digits("240517")),
            Command::CheckPin {
                subscriber: alice(),
                digits: "240517".into()
            }
        );
        let main = menu.on(Input::Pin(PinCheck::Accepted));
        assert_eq!(says(&main), [Prompt::MainMenu]);
        menu
    }

    #[test]
    fn caller_id_asks_for_the_pin_and_offers_the_other_choices() {
        let mut menu = Menu::new(Some(alice()));
        let first = menu.start();
        assert!(matches!(first, Command::AskDigits(_)));
        assert_eq!(says(&first), [Prompt::EnterPin, Prompt::PinOtherChoices]);
        // `*`: another mailbox, by extension, then its PIN.
        let ask = menu.on(Input::Entry(Entry::Star));
        assert_eq!(says(&ask), [Prompt::EnterYourExtension]);
        assert_eq!(menu.on(digits("1002")), Command::FindMailbox("1002".into()));
        let bob = Subscriber {
            address: "bob@example.test".into(),
        };
        let ask = menu.on(Input::Mailbox(Some(bob.clone())));
        assert_eq!(
            says(&ask),
            [Prompt::EnterPin],
            "the other choices only at first"
        );
        assert_eq!(
            menu.on(digits("97531")),
            Command::CheckPin {
                subscriber: bob,
                digits: "97531".into()
            }
        );
    }

    #[test]
    fn pound_alone_at_the_first_prompt_leaves_a_message() {
        let mut menu = Menu::new(Some(alice()));
        menu.start();
        assert_eq!(menu.on(Input::Entry(Entry::Pound)), Command::LeaveMessage);
        let mut menu = Menu::new(None);
        assert_eq!(says(&menu.start()), [Prompt::EnterYourExtension]);
        assert_eq!(menu.on(Input::Entry(Entry::Pound)), Command::LeaveMessage);
        // After the first prompt, `#` alone at the PIN prompt is a wrong PIN.
        let mut menu = Menu::new(Some(alice()));
        menu.start();
        menu.on(digits("1"));
        menu.on(Input::Pin(PinCheck::Wrong));
        let again = menu.on(Input::Entry(Entry::Pound));
        assert_eq!(says(&again), [Prompt::WrongPin, Prompt::EnterPin]);
    }

    #[test]
    fn three_wrong_pins_end_the_call_and_a_lock_ends_it_at_once() {
        let mut menu = Menu::new(Some(alice()));
        menu.start();
        for attempt in 1..=MAX_WRONG_PINS {
            assert!(matches!(menu.on(digits("111")), Command::CheckPin { .. }));
            let next = menu.on(Input::Pin(PinCheck::Wrong));
            if attempt < MAX_WRONG_PINS {
                assert_eq!(says(&next), [Prompt::WrongPin, Prompt::EnterPin]);
            } else {
                assert!(matches!(next, Command::Hangup(_)));
                assert_eq!(says(&next), [Prompt::WrongPin, Prompt::Goodbye]);
            }
        }
        let mut menu = Menu::new(Some(alice()));
        menu.start();
        menu.on(digits("111"));
        let locked = menu.on(Input::Pin(PinCheck::Locked));
        assert_eq!(says(&locked), [Prompt::PinLocked, Prompt::Goodbye]);
    }

    #[test]
    fn unknown_extensions_are_refused_three_times() {
        let mut menu = Menu::new(None);
        menu.start();
        for miss in 1..=MAX_MAILBOX_MISSES {
            menu.on(digits("4444"));
            let next = menu.on(Input::Mailbox(None));
            if miss < MAX_MAILBOX_MISSES {
                assert_eq!(says(&next), [Prompt::NoMailbox, Prompt::EnterYourExtension]);
            } else {
                assert!(matches!(next, Command::Hangup(_)), "{next:?}");
            }
        }
    }

    #[test]
    fn no_input_reprompts_twice_then_says_goodbye() {
        let mut menu = logged_in();
        for _ in 0..MAX_REPROMPTS {
            let again = menu.on(Input::Key(None));
            assert_eq!(says(&again), [Prompt::NoInput, Prompt::MainMenu]);
        }
        let over = menu.on(Input::Key(None));
        assert_eq!(over, Command::Hangup(vec![Say::Prompt(Prompt::Goodbye)]));
        // A key in between starts the count again.
        let mut menu = logged_in();
        menu.on(Input::Key(None));
        menu.on(key('0'));
        menu.on(Input::Key(None));
        let again = menu.on(Input::Key(None));
        assert!(matches!(again, Command::AskKey(_)), "{again:?}");
    }

    #[test]
    fn voice_mail_plays_new_messages_and_acts_on_keys() {
        let mut menu = logged_in();
        assert_eq!(menu.on(key('1')), Command::LoadMessages);
        let first = menu.on(Input::Messages(vec![
            message(5, true),
            message(9, true),
            message(2, false),
        ]));
        let Command::AskKey(say) = &first else {
            panic!("{first:?}")
        };
        assert_eq!(
            say,
            &[
                Say::Prompt(Prompt::YouHave),
                Say::Number(2),
                Say::Prompt(Prompt::NewMessages),
                Say::Prompt(Prompt::MessageFrom),
                Say::Digits("+14255550102".into()),
                Say::Prompt(Prompt::Received),
                Say::When(UNIX_EPOCH_PLUS),
                Say::Message(ItemId(5)),
                Say::Prompt(Prompt::MessageMenu),
            ]
        );
        // `1` replays, `#` marks it read and goes on.
        assert!(
            matches!(menu.on(key('1')), Command::AskKey(say) if say.contains(&Say::Message(ItemId(5))))
        );
        assert_eq!(
            menu.on(key('#')),
            Command::MarkRead {
                item: ItemId(5),
                read: true
            }
        );
        let second = menu.on(Input::Done);
        assert!(matches!(&second, Command::AskKey(say) if say.contains(&Say::Message(ItemId(9)))));
        // `7` deletes it; the next one takes its place.
        assert_eq!(menu.on(key('7')), Command::Delete { item: ItemId(9) });
        let third = menu.on(Input::Done);
        assert_eq!(says(&third)[0], Prompt::Deleted);
        assert!(matches!(&third, Command::AskKey(say) if say.contains(&Say::Message(ItemId(2)))));
        // `9` keeps it unread; then there are no more and the main menu follows.
        assert_eq!(
            menu.on(key('9')),
            Command::MarkRead {
                item: ItemId(2),
                read: false
            }
        );
        let end = menu.on(Input::Done);
        assert_eq!(
            says(&end),
            [
                Prompt::MarkedUnread,
                Prompt::NoMoreMessages,
                Prompt::MainMenu
            ]
        );
        // `*` during a message goes back to the main menu.
        menu.on(key('1'));
        menu.on(Input::Messages(vec![message(1, false)]));
        assert_eq!(says(&menu.on(key('*'))), [Prompt::MainMenu]);
    }

    #[test]
    fn personal_options_record_review_and_keep_or_redo() {
        let mut menu = logged_in();
        assert_eq!(says(&menu.on(key('6'))), [Prompt::PersonalOptions]);
        assert_eq!(menu.on(key('2')), Command::Record(GreetingKind::Away));
        let clip = Clip {
            law: Law::Mu,
            codes: Arc::from(&[1u8, 2, 3][..]),
        };
        let review = menu.on(Input::Recording(Some(clip.clone())));
        assert_eq!(
            review,
            Command::AskKey(vec![
                Say::Clip(clip.clone()),
                Say::Prompt(Prompt::KeepOrRedo)
            ])
        );
        assert_eq!(menu.on(key('2')), Command::Record(GreetingKind::Away));
        menu.on(Input::Recording(Some(clip.clone())));
        assert_eq!(menu.on(key('1')), Command::Save(GreetingKind::Away, clip));
        assert_eq!(
            says(&menu.on(Input::Done)),
            [Prompt::Saved, Prompt::PersonalOptions]
        );
        // Nothing recorded: back to the options.
        assert_eq!(menu.on(key('3')), Command::Record(GreetingKind::Name));
        assert_eq!(
            says(&menu.on(Input::Recording(None))),
            [Prompt::PersonalOptions]
        );
        // `4` changes the PIN; a refused one is asked again.
        assert_eq!(says(&menu.on(key('4'))), [Prompt::EnterNewPin]);
        assert_eq!(menu.on(digits("1234")), Command::ChangePin("1234".into()));
        assert_eq!(
            says(&menu.on(Input::PinChanged(false))),
            [Prompt::PinNotAllowed, Prompt::EnterNewPin]
        );
        menu.on(digits("86420975"));
        assert_eq!(
            says(&menu.on(Input::PinChanged(true))),
            [Prompt::PinChanged, Prompt::PersonalOptions]
        );
        assert_eq!(says(&menu.on(key('*'))), [Prompt::MainMenu]);
    }

    #[test]
    fn a_key_flood_ends_the_call_and_a_wrong_answer_is_not_guessed_at() {
        let mut menu = logged_in();
        let mut last = Command::LoadMessages;
        for _ in 0..=MAX_STEPS {
            last = menu.on(key('0'));
        }
        assert!(matches!(last, Command::Hangup(_)), "{last:?}");
        let mut menu = logged_in();
        assert!(matches!(menu.on(Input::Done), Command::Hangup(_)));
    }
}
