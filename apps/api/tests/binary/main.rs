//! The `payymo` binary run as a process: the CLI, `create-admin`, and signing-key rotation on
//! SIGHUP.

mod cli;
mod create_admin;
mod key_rotation;
