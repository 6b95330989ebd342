//! Running the rule pack outside `serve`: over audit log files in event-time order
//! ([`replay`]), its reference page ([`doc`]), over each rule's fixtures ([`fixtures`]) and over the public test events with
//! known verdicts ([`public`]), and live inside `serve` ([`live`]). Loading a pack with its lists is [`pack`].

pub mod doc;
pub mod fixtures;
pub mod live;
pub mod pack;
pub mod public;
pub mod replay;
