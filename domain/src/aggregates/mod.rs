//! The aggregates. Each file holds one: its state, commands, events and rules.

pub mod assessment;
pub mod authority;
pub mod cadre;
pub mod fund;
pub mod household;
pub mod pairing;
pub mod program;
pub mod spot_check;
pub mod unit;

/// Implements cqrs-es's `Aggregate` for a type with `decide` (command → events, or a refusal) and
/// `evolve` (event → state). Every aggregate is pure: its services are the [`Registry`] of
/// registered people and things, built from the log up to the command.
///
/// [`Registry`]: crate::registry::Registry
macro_rules! aggregate {
    ($agg:ident, $type:literal, $cmd:ident, $event:ident) => {
        impl $crate::aggregates::Decide for $agg {
            type Body = $cmd;

            fn decide(
                &self,
                ctx: &$crate::command::Ctx,
                command: $cmd,
                registry: &$crate::registry::Registry,
            ) -> Result<Vec<$event>, $crate::error::DomainError> {
                // The inherent method of the same name, in the aggregate's own file.
                $agg::decide(self, ctx, command, registry)
            }

            fn evolve(&mut self, event: $event) {
                $agg::evolve(self, event)
            }
        }

        impl cqrs_es::Aggregate for $agg {
            const TYPE: &'static str = $type;
            type Command = $crate::command::Command<$cmd>;
            type Event = $event;
            type Error = $crate::error::DomainError;
            type Services = $crate::registry::Registry;

            async fn handle(
                &mut self,
                command: Self::Command,
                registry: &Self::Services,
                sink: &cqrs_es::event_sink::EventSink<Self>,
            ) -> Result<(), Self::Error> {
                for event in self.decide(&command.ctx, command.body, registry)? {
                    sink.write(event, self).await;
                }
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                self.evolve(event)
            }
        }
    };
}
pub(crate) use aggregate;

/// The two pure functions every aggregate is made of. cqrs-es's `Aggregate::handle` and `apply`
/// call them (so `TestFramework` tests them); the log and the verifier call them directly,
/// synchronously, without cqrs-es's async event sink.
pub trait Decide:
    cqrs_es::Aggregate<Error = DomainError, Services = crate::registry::Registry>
{
    /// The aggregate's command enum (a statement's `type` and `args`).
    type Body;

    /// Events for the command, or why not; never changes `self`.
    fn decide(
        &self,
        ctx: &crate::command::Ctx,
        command: Self::Body,
        registry: &crate::registry::Registry,
    ) -> Result<Vec<Self::Event>, DomainError>;

    /// Applies one event.
    fn evolve(&mut self, event: Self::Event);
}

use crate::date::Date;
use crate::error::DomainError;
pub(crate) use text_field as text;

/// The registered, active cadre `id`, or the refusal that says why not.
pub(crate) fn active_cadre(
    registry: &crate::registry::Registry,
    id: &crate::ids::CadreId,
) -> Result<(), DomainError> {
    match registry.cadre(id) {
        None => Err(DomainError::NotFound {
            what: "cadre",
            id: id.to_string(),
        }),
        Some(c) if !c.status.is_active() => Err(DomainError::CadreInactive {
            cadre: id.to_string(),
            status: c.status.name(),
        }),
        Some(_) => Ok(()),
    }
}

/// Refuses a date after today (China Standard Time).
pub(crate) fn not_in_future(date: Date, ctx: &crate::command::Ctx) -> Result<(), DomainError> {
    let today = ctx.today();
    if date > today {
        return Err(DomainError::DateInFuture { date, today });
    }
    Ok(())
}

/// Refuses empty or overlong free text (names, reasons).
pub(crate) fn text_field(
    field: &'static str,
    s: &str,
    max_chars: usize,
) -> Result<(), DomainError> {
    let n = s.chars().count();
    if n == 0 || n > max_chars {
        return Err(DomainError::OutOfRange {
            field,
            reason: format!("需要 1–{max_chars} 个字符 / must be 1–{max_chars} characters"),
        });
    }
    Ok(())
}
