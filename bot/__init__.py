"""KSBB Bot: wiring, settings, channels, outbox sender, limiter, scheduler and CLI."""
